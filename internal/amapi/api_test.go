package amapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	amcluster "github.com/prometheus/alertmanager/cluster"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/amapi"
)

func TestBadInputIsRefusedWithAReason(t *testing.T) {
	e := newEnv(t, amapi.Options{MaxBodyBytes: 4096})
	big := `[{"labels": {"alertname": "` + strings.Repeat("x", 5000) + `"}}]`
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		reason                   string
	}{
		{"not JSON", "POST", "/api/v2/alerts", `{`, 400, "invalid JSON body"},
		{"not a list", "POST", "/api/v2/alerts", `{"labels": {}}`, 400, "invalid JSON body"},
		{"no labels", "POST", "/api/v2/alerts", `[{"annotations": {"a": "b"}}]`, 400, "labels in body is required"},
		{"bad label name", "POST", "/api/v2/alerts", `[{"labels": {"0bad": "x"}}]`, 400, `invalid label set: invalid name "0bad"`},
		{"ends before it starts", "POST", "/api/v2/alerts",
			`[{"labels": {"alertname": "A"}, "startsAt": "2026-01-02T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}]`,
			400, "start time must be before end time"},
		{"too large", "POST", "/api/v2/alerts", big, 413, "larger than 4096 bytes"},
		{"bad filter", "GET", "/api/v2/alerts?filter=alertname%3D%7E%22(%22", "", 400, "bad filter"},
		{"bad flag", "GET", "/api/v2/alerts?silenced=maybe", "", 400, "silenced must be true or false"},
		{"bad receiver", "GET", "/api/v2/alerts/groups?receiver=(", "", 400, "bad receiver regular expression"},
		{"silence without matchers", "POST", "/api/v2/silences",
			`{"matchers": [], "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z", "createdBy": "a", "comment": "c"}`,
			400, "matchers in body should have at least 1 items"},
		{"silence ended", "POST", "/api/v2/silences",
			`{"matchers": [{"name": "a", "value": "b", "isRegex": false}], "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2000-01-02T00:00:00Z", "createdBy": "a", "comment": "c"}`,
			400, "end time can't be in the past"},
		{"unknown silence", "GET", "/api/v2/silence/1b8a9d2c-0000-4000-8000-000000000000", "", 404, "not found"},
		{"expire unknown silence", "DELETE", "/api/v2/silence/1b8a9d2c-0000-4000-8000-000000000000", "", 404, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, e.url+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var reason string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&reason), "the reason is a JSON string")
			require.Equal(t, tc.code, resp.StatusCode, reason)
			require.Contains(t, reason, tc.reason)
		})
	}
}

func TestInvalidAlertsDoNotStopValidOnes(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	code, body := e.post(t, "/api/v2/alerts", `[
		{"labels": {"alertname": "BrokerDown", "service": "broker"}},
		{"labels": {"alertname": "Bad"}, "startsAt": "2026-01-02T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}]`)
	require.Equal(t, 400, code)
	require.Contains(t, body, `alert 1 {alertname=\"Bad\"}`)
	require.Equal(t, []string{"BrokerDown"}, e.nextPage(t), "the valid alert pages, as in Alertmanager")
}

func TestStatusShowsAnAlertmanagerConfigWithoutSecrets(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	code, body := e.get(t, "/api/v2/status")
	require.Equal(t, 200, code)
	require.NotContains(t, body, "s3cr3t")
	require.NotContains(t, body, e.vendor.APIURL(), "integration URLs can carry tokens")
	var status struct {
		Cluster     struct{ Status string }
		VersionInfo map[string]string
		Uptime      string
		Config      struct{ Original string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &status))
	require.Equal(t, "disabled", status.Cluster.Status)
	require.NotEmpty(t, status.Uptime)
	require.Contains(t, status.VersionInfo, "goVersion")
	cfg, err := amconfig.Load(status.Config.Original)
	require.NoError(t, err, "Alertmanager's own loader reads it:\n%s", status.Config.Original)
	require.Equal(t, "oncall", cfg.Route.Receiver)
	require.Len(t, cfg.Receivers, 2)

	code, body = e.get(t, "/api/v2/receivers")
	require.Equal(t, 200, code)
	require.JSONEq(t, `[{"name": "oncall"}, {"name": "chat"}]`, body)
}

func TestGroupsListTheDispatchersGroups(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	code, body := e.post(t, "/api/v2/alerts", `[
		{"labels": {"alertname": "BrokerDown", "service": "broker"}},
		{"labels": {"alertname": "ApiDown", "service": "api"}},
		{"labels": {"alertname": "Info", "service": "api", "severity": "info"}}]`)
	require.Equal(t, 200, code, body)
	var groups []struct {
		Labels   map[string]string
		Receiver struct{ Name string }
		Alerts   []struct {
			Labels    map[string]string
			Receivers []struct{ Name string }
			Status    struct{ State string }
		}
	}
	code, body = e.get(t, "/api/v2/alerts/groups")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal([]byte(body), &groups))
	require.Len(t, groups, 3)
	require.Equal(t, "chat", groups[0].Receiver.Name)
	require.Equal(t, map[string]string{"service": "api"}, groups[1].Labels)
	require.Equal(t, "oncall", groups[1].Receiver.Name)
	require.Equal(t, "active", groups[1].Alerts[0].Status.State)

	code, body = e.get(t, "/api/v2/alerts/groups?receiver=chat")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal([]byte(body), &groups))
	require.Len(t, groups, 1)
	require.Equal(t, "Info", groups[0].Alerts[0].Labels["alertname"])
}

// member and peer stand in for a cluster membership.
type member struct{ name, addr string }

func (m member) Name() string    { return m.name }
func (m member) Address() string { return m.addr }

type peer struct{}

func (peer) Name() string   { return "eu-1" }
func (peer) Status() string { return "ready" }
func (peer) Peers() []amcluster.ClusterMember {
	return []amcluster.ClusterMember{member{"eu-2", "10.0.0.2:9094"}, member{"eu-1", "10.0.0.1:9094"}}
}

func TestStatusShowsTheCluster(t *testing.T) {
	e := newEnv(t, amapi.Options{Peer: peer{}})
	code, body := e.get(t, "/api/v2/status")
	require.Equal(t, 200, code)
	var status struct{ Cluster json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(body), &status))
	require.JSONEq(t, `{"name": "eu-1", "status": "ready", "peers": [
		{"name": "eu-1", "address": "10.0.0.1:9094"}, {"name": "eu-2", "address": "10.0.0.2:9094"}]}`, string(status.Cluster))
	e.amtool(t, "silence", "query") // amtool reads this status for its version check
}

// TestAlertsEndOnEndsAtOrAfterTheResolveTimeout: an alert resolves at its
// endsAt, and one sent without endsAt resolves after global.resolve_timeout
// unless it is sent again; the vendor hears both resolves.
func TestAlertsEndOnEndsAtOrAfterTheResolveTimeout(t *testing.T) {
	for _, tc := range []struct {
		name, endsAt string
	}{
		{"endsAt", `, "endsAt": "` + time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano) + `"`},
		{"resolve timeout", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWith(t, amapi.Options{}, func(cfg *configs.Config) { cfg.Global.ResolveTimeout = model.Duration(time.Second) })
			code, body := e.post(t, "/api/v2/alerts", `[{"labels": {"alertname": "A", "service": "s"}`+tc.endsAt+`}]`)
			require.Equal(t, 200, code, body)
			require.Equal(t, []string{"A"}, e.nextPage(t))
			require.Empty(t, e.nextPage(t), "the next page resolves it")
			reqs := e.vendor.Requests()
			require.True(t, reqs[len(reqs)-1].Page.Resolved)
			_, body = e.get(t, "/api/v2/alerts")
			require.JSONEq(t, `[]`, body, "a resolved alert is not listed")
		})
	}
}

// TestAlertStatusSaysWhatSuppressesIt: an alert's status names the
// silences that mute it and the alerts that inhibit it, as Alertmanager's
// does, and the active, silenced and inhibited flags select by it.
func TestAlertStatusSaysWhatSuppressesIt(t *testing.T) {
	e := newEnv(t, amapi.Options{})
	id := strings.TrimSpace(e.amtool(t, "silence", "add", "alertname=ApiSlow", "--duration=1h", "--comment=c", "--author=a"))
	code, body := e.post(t, "/api/v2/alerts", `[
		{"labels": {"alertname": "SiteDown", "service": "broker"}},
		{"labels": {"alertname": "BrokerSlow", "service": "broker", "severity": "warning"}},
		{"labels": {"alertname": "ApiSlow", "service": "api", "severity": "warning"}},
		{"labels": {"alertname": "ApiDown", "service": "api"}}]`)
	require.Equal(t, 200, code, body)
	require.Equal(t, []string{"ApiDown", "SiteDown"}, e.pagedTogether(t, 2), "each group pages its one unsuppressed alert")
	siteDown := model.LabelSet{"alertname": "SiteDown", "service": "broker"}.Fingerprint().String()

	type status struct {
		State       string
		SilencedBy  []string
		InhibitedBy []string
	}
	query := func(t *testing.T, path string) map[string]status {
		t.Helper()
		code, body := e.get(t, path)
		require.Equal(t, 200, code, body)
		var alerts []struct {
			Labels map[string]string
			Status status
		}
		require.NoError(t, json.Unmarshal([]byte(body), &alerts))
		out := map[string]status{}
		for _, a := range alerts {
			out[a.Labels["alertname"]] = a.Status
		}
		return out
	}
	active := status{State: "active", SilencedBy: []string{}, InhibitedBy: []string{}}
	all := query(t, "/api/v2/alerts")
	require.Equal(t, map[string]status{
		"SiteDown":   active,
		"ApiDown":    active,
		"BrokerSlow": {State: "suppressed", SilencedBy: []string{}, InhibitedBy: []string{siteDown}},
		"ApiSlow":    {State: "suppressed", SilencedBy: []string{id}, InhibitedBy: []string{}},
	}, all)

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"inhibited=false", []string{"ApiDown", "ApiSlow", "SiteDown"}},
		{"silenced=false", []string{"ApiDown", "BrokerSlow", "SiteDown"}},
		{"silenced=false&inhibited=false", []string{"ApiDown", "SiteDown"}},
		{"active=false", []string{"ApiSlow", "BrokerSlow"}},
		{"active=false&silenced=false", []string{"BrokerSlow"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			got := query(t, "/api/v2/alerts?"+tc.query)
			require.ElementsMatch(t, tc.want, slices.Collect(maps.Keys(got)))
		})
	}

	code, body = e.get(t, "/api/v2/alerts/groups?active=false")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `"inhibitedBy":["`+siteDown+`"]`, "groups show the same status")
	require.Contains(t, e.amtool(t, "alert", "query", "--inhibited"), "BrokerSlow")
	require.NotContains(t, e.amtool(t, "alert", "query"), "BrokerSlow", "amtool hides inhibited alerts by default")
}

// TestGroupsShowTheTimeIntervalsThatMuteThem: a group that a time interval
// mutes shows it in its alerts' mutedBy, as suppressed, and muted=false
// leaves it out, as in Alertmanager.
func TestGroupsShowTheTimeIntervalsThatMuteThem(t *testing.T) {
	e := newEnvWith(t, amapi.Options{}, func(cfg *configs.Config) {
		cfg.TimeIntervals = []*configs.TimeInterval{{Name: "always", TimeIntervals: []timeinterval.TimeInterval{{}}}}
		cfg.Route.Routes = append([]*configs.Route{{Receiver: "chat", Matchers: []string{`severity="quiet"`}, MuteTimeIntervals: []string{"always"}}}, cfg.Route.Routes...)
	})
	code, body := e.post(t, "/api/v2/alerts", `[
		{"labels": {"alertname": "Quiet", "service": "q", "severity": "quiet"}},
		{"labels": {"alertname": "Loud", "service": "l"}}]`)
	require.Equal(t, 200, code, body)
	require.Equal(t, []string{"Loud"}, e.nextPage(t), "the muted group sends nothing")

	type group struct {
		Alerts []struct {
			Labels map[string]string
			Status struct {
				State   string
				MutedBy []string
			}
		}
	}
	var groups []group
	code, body = e.get(t, "/api/v2/alerts/groups")
	require.Equal(t, 200, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &groups))
	require.Len(t, groups, 2)
	quiet := groups[0].Alerts[0]
	require.Equal(t, "Quiet", quiet.Labels["alertname"])
	require.Equal(t, "suppressed", quiet.Status.State)
	require.Equal(t, []string{"always"}, quiet.Status.MutedBy)
	require.Empty(t, groups[1].Alerts[0].Status.MutedBy)

	code, body = e.get(t, "/api/v2/alerts/groups?muted=false")
	require.Equal(t, 200, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &groups))
	require.Len(t, groups, 1)
	require.Equal(t, "Loud", groups[0].Alerts[0].Labels["alertname"])
}
