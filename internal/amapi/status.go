package amapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/version"
	"go.yaml.in/yaml/v3"

	"github.com/tocsin-alerting/tocsin/configs"
)

// getStatus answers with the version, uptime, cluster status and the
// Alertmanager part of the config (see alertmanagerConfig).
func (a *API) getStatus(w http.ResponseWriter, _ *http.Request) {
	original, err := alertmanagerConfig(a.config())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	uptime := strfmt.DateTime(a.opts.Started)
	writeJSON(w, http.StatusOK, &models.AlertmanagerStatus{
		Uptime: &uptime,
		VersionInfo: &models.VersionInfo{
			Version:   &version.Version,
			Revision:  &version.Revision,
			Branch:    &version.Branch,
			BuildUser: &version.BuildUser,
			BuildDate: &version.BuildDate,
			GoVersion: &version.GoVersion,
		},
		Config:  &models.AlertmanagerConfig{Original: &original},
		Cluster: a.clusterStatus(),
	})
}

// clusterStatus is this replica's view of the cluster, as Alertmanager
// shows it: its name, ready or settling, and its peers by name.
func (a *API) clusterStatus() *models.ClusterStatus {
	if a.opts.Peer == nil {
		disabled := models.ClusterStatusStatusDisabled
		return &models.ClusterStatus{Status: &disabled, Peers: []*models.PeerStatus{}}
	}
	status := a.opts.Peer.Status()
	peers := []*models.PeerStatus{}
	for _, m := range a.opts.Peer.Peers() {
		name, address := m.Name(), m.Address()
		peers = append(peers, &models.PeerStatus{Name: &name, Address: &address})
	}
	slices.SortFunc(peers, func(x, y *models.PeerStatus) int { return strings.Compare(*x.Name, *y.Name) })
	return &models.ClusterStatus{Name: a.opts.Peer.Name(), Status: &status, Peers: peers}
}

func (a *API) getReceivers(w http.ResponseWriter, _ *http.Request) {
	out := []*models.Receiver{}
	if cfg := a.config(); cfg != nil {
		for _, rc := range cfg.Receivers {
			name := rc.Name
			out = append(out, &models.Receiver{Name: &name})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) config() *configs.Config {
	if a.opts.Config == nil {
		return nil
	}
	return a.opts.Config()
}

// amRoute is a route as Alertmanager's config file writes it.
type amRoute struct {
	Receiver       string            `yaml:"receiver,omitempty"`
	GroupBy        []model.LabelName `yaml:"group_by,omitempty"`
	Matchers       []string          `yaml:"matchers,omitempty"`
	Match          map[string]string `yaml:"match,omitempty"`
	MatchRE        map[string]string `yaml:"match_re,omitempty"`
	MuteTimes      []string          `yaml:"mute_time_intervals,omitempty"`
	ActiveTimes    []string          `yaml:"active_time_intervals,omitempty"`
	Continue       bool              `yaml:"continue,omitempty"`
	GroupWait      *model.Duration   `yaml:"group_wait,omitempty"`
	GroupInterval  *model.Duration   `yaml:"group_interval,omitempty"`
	RepeatInterval *model.Duration   `yaml:"repeat_interval,omitempty"`
	Routes         []*amRoute        `yaml:"routes,omitempty"`
}

type amReceiver struct {
	Name string `yaml:"name"`
}

// alertmanagerConfig writes the route tree, the receivers' names, the
// inhibit rules and the time intervals of cfg as an Alertmanager config,
// which is what clients of the API parse (amtool config routes).
// Receivers are listed by name only: their integrations carry secrets and
// tocsin-only keys (strategy, *_file) that Alertmanager would refuse.
func alertmanagerConfig(cfg *configs.Config) (string, error) {
	if cfg == nil || cfg.Route == nil {
		return "", nil
	}
	c := struct {
		Route             *amRoute                `yaml:"route"`
		Receivers         []amReceiver            `yaml:"receivers"`
		InhibitRules      []*configs.InhibitRule  `yaml:"inhibit_rules,omitempty"`
		TimeIntervals     []*configs.TimeInterval `yaml:"time_intervals,omitempty"`
		MuteTimeIntervals []*configs.TimeInterval `yaml:"mute_time_intervals,omitempty"`
	}{Route: toAMRoute(cfg.Route), InhibitRules: cfg.InhibitRules, TimeIntervals: cfg.TimeIntervals, MuteTimeIntervals: cfg.MuteTimeIntervals}
	for _, rc := range cfg.Receivers {
		c.Receivers = append(c.Receivers, amReceiver{Name: rc.Name})
	}
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return "", err
	}
	return b.String(), enc.Close()
}

func toAMRoute(r *configs.Route) *amRoute {
	out := &amRoute{
		Receiver: r.Receiver, GroupBy: r.GroupBy, Matchers: r.Matchers, Continue: r.Continue,
		Match: r.Match, MatchRE: r.MatchRE, MuteTimes: r.MuteTimeIntervals, ActiveTimes: r.ActiveTimeIntervals,
		GroupWait: r.GroupWait, GroupInterval: r.GroupInterval, RepeatInterval: r.RepeatInterval,
	}
	for _, c := range r.Routes {
		out.Routes = append(out.Routes, toAMRoute(c))
	}
	return out
}
