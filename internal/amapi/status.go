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

// alertmanagerConfig writes the notification part of cfg (the global
// integration defaults, the route tree, the receivers with their
// integrations, the inhibit rules, time intervals and templates) as an
// Alertmanager config file, as Alertmanager's status shows its own loaded
// config: with defaults filled in and every secret shown as <secret>.
// amtool config show prints it, and amtool config routes reads it with
// Alertmanager's strict loader, so what only tocsin has (a receiver's
// strategy, Twilio and dead-man integrations, an STARTTLS policy of none)
// is written as comments, and what tocsin names differently is written
// under Alertmanager's name.
func alertmanagerConfig(cfg *configs.Config) (string, error) {
	if cfg == nil || cfg.Route == nil {
		return "", nil
	}
	doc := struct {
		Global struct {
			ResolveTimeout              model.Duration `yaml:"resolve_timeout,omitempty"`
			configs.IntegrationDefaults `yaml:",inline"`
		} `yaml:"global"`
		Route             *configs.Route            `yaml:"route"`
		Receivers         []*configs.ReceiverConfig `yaml:"receivers"`
		InhibitRules      []*configs.InhibitRule    `yaml:"inhibit_rules,omitempty"`
		TimeIntervals     []*configs.TimeInterval   `yaml:"time_intervals,omitempty"`
		MuteTimeIntervals []*configs.TimeInterval   `yaml:"mute_time_intervals,omitempty"`
		Templates         []string                  `yaml:"templates,omitempty"`
	}{Route: cfg.Route, Receivers: cfg.Receivers, InhibitRules: cfg.InhibitRules, TimeIntervals: cfg.TimeIntervals, MuteTimeIntervals: cfg.MuteTimeIntervals, Templates: cfg.Templates}
	doc.Global.ResolveTimeout = cfg.Global.ResolveTimeout
	doc.Global.IntegrationDefaults = cfg.Global.IntegrationDefaults
	var root yaml.Node
	if err := root.Encode(doc); err != nil {
		return "", err
	}
	// The receivers are rewritten in the encoded tree, where what
	// Alertmanager lacks can become comments.
	receivers := valueNode(&root, "receivers")
	for i, rc := range cfg.Receivers {
		if rc != nil && i < len(receivers.Content) {
			amReceiver(receivers.Content[i], rc)
		}
	}
	amKeys(&root)
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return "", err
	}
	return b.String(), enc.Close()
}

// amReceiver rewrites an encoded receiver as Alertmanager writes one.
func amReceiver(n *yaml.Node, rc *configs.ReceiverConfig) {
	var tocsinOnly []string
	for _, key := range []string{"strategy", "failover_after", "twilio_configs", "deadman_configs"} {
		if v := removeKey(n, key); v != nil {
			tocsinOnly = append(tocsinOnly, yamlText(key, v))
		}
	}
	if len(tocsinOnly) > 0 {
		addComment(n, "tocsin only, which Alertmanager does not have:\n"+strings.Join(tocsinOnly, "\n"))
	}
	// Alertmanager has timeout on slack, webhook and pagerduty only.
	for _, key := range []string{"opsgenie_configs", "email_configs", "msteams_configs"} {
		if v := valueNode(n, key); v != nil {
			for _, item := range v.Content {
				if t := removeKey(item, "timeout"); t != nil {
					addComment(item, "tocsin only: timeout: "+t.Value)
				}
			}
		}
	}
	amTeams(n, rc)
	if v := valueNode(n, "opsgenie_configs"); v != nil {
		for i, og := range rc.OpsgenieConfigs {
			if og != nil && og.Region != "" && i < len(v.Content) {
				removeKey(v.Content[i], "region")
				setKey(v.Content[i], "api_url", og.OpsgenieBaseURL(), "tocsin's region: "+og.Region)
			}
		}
	}
	if v := valueNode(n, "slack_configs"); v != nil {
		for i, sc := range rc.SlackConfigs {
			if sc == nil || i >= len(v.Content) {
				continue
			}
			// Alertmanager's loader takes update_message only next to
			// an api_url it can read, which <secret> is not, and fails
			// on it next to app_token.
			if u := removeKey(v.Content[i], "update_message"); u != nil {
				addComment(v.Content[i], "tocsin only: update_message: "+u.Value)
			}
			if sc.Token != "" || sc.TokenFile != "" {
				amSlackApp(v.Content[i], sc)
			}
		}
	}
}

// amTeams writes each Teams integration under Alertmanager's key for the
// card it posts: msteams_configs for a MessageCard to an Office 365
// connector, msteamsv2_configs for an Adaptive Card, which has no summary.
func amTeams(n *yaml.Node, rc *configs.ReceiverConfig) {
	v := removeKey(n, "msteams_configs")
	if v == nil {
		return
	}
	var cards, adaptive []*yaml.Node
	for i, item := range v.Content {
		if i < len(rc.MSTeamsConfigs) && rc.MSTeamsConfigs[i] != nil && rc.MSTeamsConfigs[i].SendsMessageCard(string(rc.MSTeamsConfigs[i].WebhookURL)) {
			cards = append(cards, item)
			continue
		}
		if s := removeKey(item, "summary"); s != nil {
			addComment(item, "tocsin only: "+yamlText("summary", s))
		}
		adaptive = append(adaptive, item)
	}
	for _, k := range []struct {
		key, comment string
		items        []*yaml.Node
	}{{"msteams_configs", "", cards}, {"msteamsv2_configs", "tocsin's msteams_configs", adaptive}} {
		if len(k.items) > 0 {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k.key, LineComment: k.comment},
				&yaml.Node{Kind: yaml.SequenceNode, Content: k.items})
		}
	}
}

// amSlackApp writes tocsin's bot mode (token and the Web API base in
// api_url) as Alertmanager's app_token and app_url.
func amSlackApp(n *yaml.Node, sc *configs.SlackConfig) {
	for _, r := range [][2]string{{"token", "app_token"}, {"token_file", "app_token_file"}} {
		if k := keyNode(n, r[0]); k != nil {
			k.Value = r[1]
		}
	}
	removeKey(n, "api_url")
	base := string(sc.APIURL)
	if base == "" {
		base = configs.DefaultSlackAPIURL
	}
	setKey(n, "app_url", strings.TrimSuffix(base, "/")+"/chat.postMessage", "")
}

// amKeys rewrites, in every mapping under n, what Alertmanager's loader
// reads differently: a secret loaded from a *_file is shown by its file
// only (Alertmanager refuses both), and an STARTTLS policy is its boolean
// require_tls.
func amKeys(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		var loaded []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			if key := n.Content[i].Value; strings.HasSuffix(key, "_file") && n.Content[i+1].Value != "" {
				loaded = append(loaded, strings.TrimSuffix(key, "_file"))
			}
		}
		for _, key := range loaded {
			removeKey(n, key)
		}
		for _, key := range []string{"require_tls", "smtp_require_tls"} {
			v := valueNode(n, key)
			if v == nil {
				continue
			}
			switch configs.TLSPolicy(v.Value) {
			case configs.TLSMandatory:
				v.Value, v.Tag = "true", "!!bool"
			case configs.TLSOpportunistic:
				v.Value, v.Tag = "false", "!!bool"
			default:
				removeKey(n, key)
				addComment(n, "tocsin only: "+key+": "+v.Value)
			}
		}
	}
	for _, c := range n.Content {
		amKeys(c)
	}
}

// keyNode and valueNode find a key of a mapping and its value.
func keyNode(n *yaml.Node, key string) *yaml.Node {
	if i := keyIndex(n, key); i >= 0 {
		return n.Content[i]
	}
	return nil
}

func valueNode(n *yaml.Node, key string) *yaml.Node {
	if i := keyIndex(n, key); i >= 0 {
		return n.Content[i+1]
	}
	return nil
}

func keyIndex(n *yaml.Node, key string) int {
	if n == nil || n.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// removeKey drops a key from a mapping and returns its value.
func removeKey(n *yaml.Node, key string) *yaml.Node {
	i := keyIndex(n, key)
	if i < 0 {
		return nil
	}
	v := n.Content[i+1]
	n.Content = slices.Delete(n.Content, i, i+2)
	return v
}

// setKey sets a string value in a mapping, with a comment on its line.
func setKey(n *yaml.Node, key, value, comment string) {
	removeKey(n, key)
	n.Content = append(n.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: key, LineComment: comment},
		&yaml.Node{Kind: yaml.ScalarNode, Value: value})
}

// addComment adds a line to the comment above a mapping.
func addComment(n *yaml.Node, text string) {
	if len(n.Content) == 0 {
		return
	}
	first := n.Content[0]
	if first.HeadComment != "" {
		first.HeadComment += "\n"
	}
	first.HeadComment += text
}

// yamlText is key: value as YAML text, for a comment.
func yamlText(key string, v *yaml.Node) string {
	b, err := yaml.Marshal(&yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: key}, v}})
	if err != nil {
		return key + ": (not shown)"
	}
	return strings.TrimRight(string(b), "\n")
}
