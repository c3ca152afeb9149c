package devicecloud_test

import (
	"log/slog"
)

// chanWriter hands every log line to a channel, dropping lines nobody reads.
type chanWriter chan<- string

func (w chanWriter) Write(p []byte) (int, error) {
	select {
	case w <- string(p):
	default:
	}
	return len(p), nil
}

func slogTo(lines chan<- string) *slog.Logger {
	return slog.New(slog.NewTextHandler(chanWriter(lines), &slog.HandlerOptions{Level: slog.LevelWarn}))
}
