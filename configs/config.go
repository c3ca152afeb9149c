// Package configs holds tocsin's service configuration: its schema, strict
// loading with file:line:col errors, defaults, and secrets.
package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"go.yaml.in/yaml/v3"
)

// Config is the whole service configuration (tocsin.yml).
type Config struct {
	Global             GlobalConfig      `yaml:"global"`
	Storage            StorageConfig     `yaml:"storage"`
	Cluster            ClusterConfig     `yaml:"cluster"`
	RuleFiles          []string          `yaml:"rule_files"`
	EvaluationInterval model.Duration    `yaml:"evaluation_interval"`
	Probes             []*ProbeConfig    `yaml:"probes"`
	Route              *Route            `yaml:"route"`
	Receivers          []*ReceiverConfig `yaml:"receivers"`
	InhibitRules       []*InhibitRule    `yaml:"inhibit_rules"`
	TimeIntervals      []*TimeInterval   `yaml:"time_intervals"`
	// MuteTimeIntervals is Alertmanager's deprecated name for
	// time_intervals; both lists share one namespace.
	MuteTimeIntervals []*TimeInterval `yaml:"mute_time_intervals"`
	// Templates are globs of template files, relative to the config file.
	Templates []string `yaml:"templates"`
	// RemoteWrite sends the local TSDB's series (probe series, ALERTS,
	// ALERTS_FOR_STATE) on, in Prometheus' own remote_write format.
	RemoteWrite []*promconfig.RemoteWriteConfig `yaml:"remote_write"`

	// File is the path the config was loaded from; relative paths in the
	// config (rule files, *_file secrets) are resolved against its directory.
	File string `yaml:"-"`

	// templateFields are the message templates of every integration, with
	// their places in the file, for the render check.
	templateFields []TemplateField
	// warnings are the paging traps found at load time.
	warnings Errors
	// ruleWarnings are the rule_files patterns that matched nothing.
	ruleWarnings Errors
}

// GlobalConfig holds settings shared by every part of tocsin.
type GlobalConfig struct {
	// Replica names this tocsin instance; it becomes the `replica` label on
	// every series and alert. Defaults to the host name.
	Replica        string         `yaml:"replica"`
	ExternalLabels model.LabelSet `yaml:"external_labels"`
	ScrapeDefaults ScrapeDefaults `yaml:"scrape_defaults"`
	// ResolveTimeout is Alertmanager's global.resolve_timeout: an alert
	// received through the API without endsAt resolves when it has not
	// been sent again for this long.
	ResolveTimeout model.Duration `yaml:"resolve_timeout,omitempty"`
	// IntegrationDefaults are Alertmanager's global keys for integrations
	// (slack_api_url, smtp_from, ...).
	IntegrationDefaults `yaml:",inline"`
}

// ScrapeDefaults are the probe interval and timeout used where a probe sets none.
type ScrapeDefaults struct {
	Interval model.Duration `yaml:"interval"`
	Timeout  model.Duration `yaml:"timeout"`
}

// StorageConfig places the local TSDB.
type StorageConfig struct {
	Path      string         `yaml:"path"`
	Retention model.Duration `yaml:"retention"`
}

// ClusterConfig holds what every replica of a cluster must agree on; the
// cluster itself (gossip addresses, peers) is set with Alertmanager's
// --cluster.* flags.
type ClusterConfig struct {
	// ProbeReplication is how many replicas run each probe, chosen by
	// consistent hashing over the live members. 0 (the default) runs every
	// probe on every replica. Heartbeat probes, which only receive pushes,
	// always run everywhere.
	ProbeReplication int `yaml:"probe_replication"`
}

// Default values, applied by applyDefaults and documented in docs/configuration.md.
const (
	DefaultScrapeInterval     = model.Duration(10 * time.Second)
	DefaultScrapeTimeout      = model.Duration(5 * time.Second)
	DefaultEvaluationInterval = model.Duration(5 * time.Second)
	DefaultRetention          = model.Duration(24 * time.Hour)
	DefaultStoragePath        = "data/"
	// DefaultResolveTimeout is Alertmanager's default resolve_timeout.
	DefaultResolveTimeout = model.Duration(5 * time.Minute)
)

// LoadFile reads, decodes, defaults and validates the config at path. On
// failure the error is an Errors value listing every problem with its place.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("read config: %v", err)}}
	}
	return Load(path, data)
}

// Load decodes, defaults and validates data as the config named file.
func Load(file string, data []byte) (*Config, error) {
	cfg := &Config{}
	pos, errs := decodeStrict(file, data, cfg)
	if pos == nil { // not YAML at all
		return nil, errs
	}
	cfg.File = file
	cfg.applyDefaults()
	// Validate even after decode errors, so one run of `tocsin check config`
	// shows every problem; a value that failed to decode was left at its
	// default, and any second complaint about the same place is dropped.
	v := &validator{collector: &collector{file: file}, pos: pos, dir: filepath.Dir(file)}
	cfg.validate(v)
	cfg.templateFields = v.templateFields
	errs = mergeErrors(errs, v.errs)
	if len(errs) > 0 {
		return nil, errs
	}
	cfg.warnings = append(cfg.pagingTraps(v), v.warnings...)
	cfg.warnings.Sort()
	cfg.ruleWarnings = cfg.ruleFileWarnings(v)
	return cfg, nil
}

// String renders the config as YAML with every secret redacted.
func (c *Config) String() string {
	out, err := yaml.Marshal(c)
	if err != nil {
		return fmt.Sprintf("<config: %v>", err)
	}
	return string(out)
}

// ResolvePath makes a path from the config relative to the config's directory.
func (c *Config) ResolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// RuleFilePaths expands rule_files globs (relative to the config file) into paths.
func (c *Config) RuleFilePaths() ([]string, error) {
	return c.expandGlobs("rule_files", c.RuleFiles)
}

// expandGlobs expands the globs of a key, relative to the config file.
func (c *Config) expandGlobs(key string, patterns []string) ([]string, error) {
	var out []string
	for _, pattern := range patterns {
		matches, err := filepath.Glob(c.ResolvePath(pattern))
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", key, pattern, err)
		}
		out = append(out, matches...)
	}
	return out, nil
}

func (c *Config) validate(v *validator) {
	if c.Global.Replica == "" {
		v.errorf(&c.Global.Replica, "global.replica is empty and the host name is unknown; set a replica name")
	}
	v.labelNames(&c.Global.ExternalLabels, "external_labels")
	if err := c.Global.ExternalLabels.Validate(); err != nil {
		v.errorf(&c.Global.ExternalLabels, "external_labels: %v", err)
	}
	c.Global.ScrapeDefaults.validate(v)
	v.positiveIfSet(&c.EvaluationInterval, "evaluation_interval", DefaultEvaluationInterval.String())
	v.positiveIfSet(&c.Storage.Retention, "storage.retention", DefaultRetention.String())
	v.positiveIfSet(&c.Global.ResolveTimeout, "resolve_timeout", DefaultResolveTimeout.String())
	if c.EvaluationInterval <= 0 {
		v.errorf(&c.EvaluationInterval, "evaluation_interval must be positive")
	}
	if c.Storage.Retention <= 0 {
		v.errorf(&c.Storage.Retention, "storage.retention must be positive")
	}
	for i := range c.RuleFiles {
		if _, err := filepath.Match(c.RuleFiles[i], ""); err != nil {
			v.errorf(&c.RuleFiles[i], "rule_files: bad pattern %q: %v", c.RuleFiles[i], err)
		}
	}
	if c.Cluster.ProbeReplication < 0 {
		v.errorf(&c.Cluster.ProbeReplication, "cluster.probe_replication must be 0 (every replica runs every probe) or the number of replicas that run each probe, such as 2; got %d", c.Cluster.ProbeReplication)
	}
	validateProbes(v, c.Probes)
	c.validateNotify(v)
	c.validateRemoteWrite(v)
}

func (s *ScrapeDefaults) validate(v *validator) {
	v.positiveIfSet(&s.Interval, "scrape_defaults.interval", DefaultScrapeInterval.String())
	v.positiveIfSet(&s.Timeout, "scrape_defaults.timeout", DefaultScrapeTimeout.String())
	if s.Interval <= 0 {
		v.errorf(&s.Interval, "scrape_defaults.interval must be positive")
	}
	if s.Timeout <= 0 {
		v.errorf(&s.Timeout, "scrape_defaults.timeout must be positive")
	}
}
