package notifiers

import (
	"log/slog"

	"github.com/prometheus/common/config"

	"github.com/tocsin-alerting/tocsin/configs"
)

// ReadSecret returns the secret an integration sends now: the content of
// its *_file read at this moment (so a rotated secret is used without a
// reload), or the inline value. When the file has become unreadable, the
// value loaded last is used and the reason is logged, so that a page still
// leaves. key names the config key in the log line, never the value.
func ReadSecret(log *slog.Logger, key string, inline config.Secret, file string) string {
	v, err := configs.ReadSecret(inline, file)
	if err != nil && log != nil {
		log.Warn(key+"_file: "+err.Error(), "file", file)
	}
	return v
}
