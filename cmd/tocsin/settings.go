package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/prometheus/common/promslog"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/tocsin-alerting/tocsin/configs"
)

// Process settings come from flags and TOCSIN_* environment variables, in
// that order of precedence: --web.listen-address or TOCSIN_WEB_LISTEN_ADDRESS.
// Viper is used for these flat settings only; it lower-cases keys, so the
// service config, label maps and rule files never go through it.
func bindSettings(flags *pflag.FlagSet) *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix("TOCSIN")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(flags); err != nil {
		panic(fmt.Sprintf("bind flags: %v", err)) // only on a programming error
	}
	return v
}

// addConfigFlag adds --config.file, shared by every command that reads the service config.
func addConfigFlag(flags *pflag.FlagSet) {
	flags.String("config.file", "tocsin.yml", "tocsin configuration file")
}

// addLogFlags adds --log.level and --log.format.
func addLogFlags(flags *pflag.FlagSet) {
	flags.String("log.level", "info", "only log messages at this level or above: debug, info, warn, error")
	flags.String("log.format", "logfmt", "log output format: logfmt or json")
}

// newLogger builds the process logger from --log.level and --log.format.
func newLogger(v *viper.Viper, w io.Writer) (*slog.Logger, error) {
	cfg := &promslog.Config{Level: promslog.NewLevel(), Format: promslog.NewFormat(), Writer: w}
	if err := cfg.Level.Set(v.GetString("log.level")); err != nil {
		return nil, fmt.Errorf("--log.level: %w", err)
	}
	if err := cfg.Format.Set(v.GetString("log.format")); err != nil {
		return nil, fmt.Errorf("--log.format: %w", err)
	}
	return promslog.New(cfg), nil
}

// printConfigErrors prints every problem of a config file, one
// FILE:LINE:COL: message per line, and returns the exit status to end with.
func printConfigErrors(w io.Writer, file string, err error) error {
	for _, e := range configs.AsErrors(file, err) {
		fmt.Fprintln(w, e)
	}
	return &exitError{code: 1}
}

// loadConfig loads the service config, printing its problems when it is bad.
func loadConfig(w io.Writer, file string) (*configs.Config, error) {
	cfg, err := configs.LoadFile(file)
	if err != nil {
		return nil, printConfigErrors(w, file, err)
	}
	return cfg, nil
}
