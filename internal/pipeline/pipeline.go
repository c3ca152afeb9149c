package pipeline

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/tocsin-alerting/tocsin/configs"
)

// Settings are the process settings that are not part of the service config.
type Settings struct {
	// StoragePath, when set, overrides storage.path from the config.
	StoragePath string
}

// Pipeline runs tocsin's flow for the configuration in force.
type Pipeline struct {
	settings Settings
	logger   *slog.Logger
	cfg      atomic.Pointer[configs.Config]
}

// New returns a Pipeline that runs nothing until the first Apply.
func New(settings Settings, logger *slog.Logger) *Pipeline {
	return &Pipeline{settings: settings, logger: logger}
}

// Apply switches the pipeline to cfg.
func (p *Pipeline) Apply(_ context.Context, cfg *configs.Config) error {
	if p.settings.StoragePath != "" {
		cfg.Storage.Path = p.settings.StoragePath
	}
	p.cfg.Store(cfg)
	return nil
}

// Ready reports whether a configuration is in force.
func (p *Pipeline) Ready() bool { return p.cfg.Load() != nil }
