package configs

import (
	"os"

	"github.com/prometheus/common/model"
)

// applyDefaults fills every unset value. It is the one place where defaults
// live; sections with defaults of their own are called from here.
func (c *Config) applyDefaults() {
	for _, r := range c.Receivers {
		if r != nil {
			for _, t := range r.MSTeamsV2Configs {
				if t != nil {
					t.V2 = true
				}
			}
			r.MSTeamsConfigs, r.MSTeamsV2Configs = append(r.MSTeamsConfigs, r.MSTeamsV2Configs...), nil
		}
	}
	if c.Global.Replica == "" {
		c.Global.Replica, _ = os.Hostname()
	}
	if c.Global.ScrapeDefaults.Interval == 0 {
		c.Global.ScrapeDefaults.Interval = DefaultScrapeInterval
	}
	if c.Global.ScrapeDefaults.Timeout == 0 {
		c.Global.ScrapeDefaults.Timeout = fitTimeout(DefaultScrapeTimeout, c.Global.ScrapeDefaults.Interval)
	}
	if c.Global.ResolveTimeout == 0 {
		c.Global.ResolveTimeout = DefaultResolveTimeout
	}
	if c.Storage.Path == "" {
		c.Storage.Path = DefaultStoragePath
	}
	if c.Storage.Retention == 0 {
		c.Storage.Retention = DefaultRetention
	}
	if c.EvaluationInterval == 0 {
		c.EvaluationInterval = DefaultEvaluationInterval
	}
	for _, p := range c.Probes {
		if p != nil {
			p.applyDefaults(c.Global.ScrapeDefaults)
		}
	}
	c.applyIntegrationGlobals()
	applyNotifyDefaults(c.Route, c.Receivers)
	for _, r := range c.Receivers {
		if r != nil {
			r.applyIntegrationDefaults()
		}
	}
}

// fitTimeout keeps a default timeout shorter than the interval it applies
// to, so that one run always ends before the next one starts: a default that
// does not fit becomes three quarters of the interval.
func fitTimeout(timeout, interval model.Duration) model.Duration {
	if timeout < interval {
		return timeout
	}
	return interval * 3 / 4
}
