// Package pipeline assembles tocsin's components from a configuration and
// swaps them safely when the configuration is reloaded.
package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tocsin-alerting/tocsin/configs"
)

// Reloader re-reads the config file, validates it and hands it to apply.
// When the file is bad or apply refuses it, the running configuration stays
// as it was, the error is logged and the reload metrics say so.
type Reloader struct {
	file   string
	apply  func(ctx context.Context, cfg *configs.Config) error
	logger *slog.Logger
	now    func() time.Time

	mu      sync.Mutex
	current *configs.Config

	success   prometheus.Gauge
	successTS prometheus.Gauge
}

// NewReloader returns a Reloader for file that calls apply with every good
// config. It registers tocsin_config_last_reload_successful and
// tocsin_config_last_reload_success_timestamp_seconds on reg.
func NewReloader(file string, apply func(context.Context, *configs.Config) error, logger *slog.Logger, reg prometheus.Registerer) *Reloader {
	r := &Reloader{
		file:   file,
		apply:  apply,
		logger: logger,
		now:    time.Now,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful (1) or not (0).",
		}),
		successTS: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tocsin_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	if reg != nil {
		reg.MustRegister(r.success, r.successTS)
	}
	return r
}

// Reload loads the file and applies it. Reloads never overlap.
func (r *Reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cfg, err := configs.LoadFile(r.file)
	if err == nil {
		err = r.apply(ctx, cfg)
	}
	if err != nil {
		r.success.Set(0)
		r.logger.Error("configuration reload failed; the previous configuration keeps running", "file", r.file, "err", err)
		return err
	}
	r.current = cfg
	r.success.Set(1)
	r.successTS.Set(float64(r.now().UnixNano()) / 1e9)
	r.logger.Info("configuration loaded", "file", r.file)
	return nil
}

// Current returns the configuration in force, or nil before the first good load.
func (r *Reloader) Current() *configs.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}
