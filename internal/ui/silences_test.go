package ui_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/amapi"
	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/internal/silences"
	"github.com/tocsin-alerting/tocsin/internal/ui"
)

// oneAlert is a pipeline that holds one firing alert: a failing
// integration, which the dispatcher raises itself.
type oneAlert struct {
	labels  model.LabelSet          // the alert's, besides alertname
	cluster bool                    // the replica gossips with others
	status  *pipeline.ClusterStatus // its cluster status, when not just its name
}

func (o oneAlert) Snapshot() pipeline.Snapshot {
	cfg := &configs.Config{}
	cfg.Global.Replica = "eu-1"
	ls := model.LabelSet{"alertname": "NotifierFailing", "integration": "pagerduty", "receiver": "oncall"}
	maps.Copy(ls, o.labels)
	snap := pipeline.Snapshot{
		Config:         cfg,
		NotifierAlerts: []*model.Alert{{Labels: ls, StartsAt: time.Now().Add(-time.Minute)}},
	}
	if o.cluster {
		snap.Cluster = &pipeline.ClusterStatus{Name: "eu-1"}
	}
	if o.status != nil {
		snap.Cluster = o.status
	}
	return snap
}

func (oneAlert) Queryable() storage.Queryable { return nil }

// silenceSite is the pages with a real silence store, and a browser-like
// client that keeps cookies and does not follow redirects.
type silenceSite struct {
	sils   *silences.Store
	srv    *httptest.Server
	client *http.Client
	base   string // URL of the route prefix, without trailing slash
}

func newSilenceSite(t *testing.T, prefix string) *silenceSite {
	t.Helper()
	return newSilenceSiteFor(t, prefix, oneAlert{})
}

func newSilenceSiteFor(t *testing.T, prefix string, src oneAlert) *silenceSite {
	t.Helper()
	sils := silences.New(silences.Options{})
	require.NoError(t, sils.Open(t.TempDir()))
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	pages, err := ui.New(ui.Options{Source: src, Silences: sils, ExternalURL: srv.URL + prefix + "/"})
	require.NoError(t, err)
	pages.Mount(mux, prefix)
	mux.Handle(amapi.Prefix, amapi.New(amapi.Options{Silences: sils}))
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &silenceSite{sils: sils, srv: srv, client: client, base: srv.URL + prefix}
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token loads /silences as a browser would and returns the form's token.
func (s *silenceSite) token(t *testing.T) string {
	t.Helper()
	code, body := s.do(t, http.MethodGet, "/silences", nil)
	require.Equal(t, http.StatusOK, code)
	m := tokenRE.FindStringSubmatch(body)
	require.NotNil(t, m, "the page has a form with a token")
	return m[1]
}

func (s *silenceSite) do(t *testing.T, method, path string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.base+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	return resp.StatusCode, string(b)
}

func (s *silenceSite) all(t *testing.T) []*silencepb.Silence {
	t.Helper()
	sils, err := s.sils.Query(context.Background())
	require.NoError(t, err)
	return sils
}

func goodForm(token string) url.Values {
	return url.Values{
		"csrf_token": {token},
		"matchers":   {`{alertname="NotifierFailing", integration="pagerduty"}`},
		"duration":   {"2h"},
		"created_by": {"ana"},
		"comment":    {"PagerDuty maintenance window"},
	}
}

func TestSilenceFormNeedsItsToken(t *testing.T) {
	s := newSilenceSite(t, "")
	token := s.token(t)
	stranger := newSilenceSite(t, "").token(t) // valid on another tocsin only

	tests := []struct {
		name  string
		token string
		code  int
	}{
		{"no token", "", http.StatusForbidden},
		{"a made-up token", "AAAA" + token[4:], http.StatusForbidden},
		{"another process's token", stranger, http.StatusForbidden},
		{"the page's token", token, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := goodForm(tt.token)
			if tt.token == "" {
				form.Del("csrf_token")
			}
			code, body := s.do(t, http.MethodPost, "/silences", form)
			require.Equal(t, tt.code, code, body)
			if code == http.StatusForbidden {
				require.Contains(t, body, "security token is missing or out of date")
				require.Contains(t, body, "PagerDuty maintenance window", "the form is shown back")
				require.Empty(t, s.all(t))
			}
		})
	}
	require.Len(t, s.all(t), 1)

	// A browser without the cookie cannot use a token it was given.
	bare := &http.Client{CheckRedirect: s.client.CheckRedirect}
	resp, err := bare.PostForm(s.base+"/silences", goodForm(token))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestSilenceFormRefusesBadInput(t *testing.T) {
	s := newSilenceSite(t, "")
	token := s.token(t)
	tests := []struct {
		name, field, value, want string
	}{
		{"no matchers", "matchers", "", "matchers are required"},
		{"matchers that do not parse", "matchers", `{alertname="unclosed}`, "the matchers do not parse"},
		{"a regexp that does not compile", "matchers", `{probe=~"("}`, "the matchers do not parse: error parsing regexp"},
		{"matchers that match everything", "matchers", `{probe=~".*"}`, "at least one matcher must not match the empty string"},
		{"a duration that is not one", "duration", "soon", `duration "soon" is not a positive duration`},
		{"a negative duration", "duration", "-1h", `duration "-1h" is not a positive duration`},
		{"an end that is not a time", "ends_at", "tomorrow", `end "tomorrow" is not a time`},
		{"an end in the past", "ends_at", "2001-01-01 00:00", "is not in the future"},
		{"nobody created it", "created_by", " ", "created by is required"},
		{"no comment", "comment", "", "a comment is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := goodForm(token)
			form.Set(tt.field, tt.value)
			code, body := s.do(t, http.MethodPost, "/silences", form)
			require.Equal(t, http.StatusBadRequest, code, body)
			require.Contains(t, body, "The silence was not created")
			require.Contains(t, body, escaped(tt.want))
			if tt.field != "created_by" {
				require.Contains(t, body, `value="ana"`, "what was typed is shown back")
			}
		})
	}
	require.Empty(t, s.all(t))
}

// escaped escapes text as html/template writes it into a page.
func escaped(s string) string {
	return strings.NewReplacer(`"`, "&#34;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestSilenceCreateListExpire(t *testing.T) {
	s := newSilenceSite(t, "")
	code, body := s.do(t, http.MethodGet, "/alerts", nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "Silence…")
	require.NotContains(t, body, "SILENCED")
	// The alert's link opens the form with its labels as matchers.
	link := regexp.MustCompile(`href="(/silences\?matchers=[^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, link, body)
	code, body = s.do(t, http.MethodGet, html.UnescapeString(link[1]), nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `value="`+escaped(`{alertname="NotifierFailing", integration="pagerduty", receiver="oncall"}`)+`"`)

	code, loc := s.do(t, http.MethodPost, "/silences", goodForm(s.token(t)))
	require.Equal(t, http.StatusSeeOther, code)
	sils := s.all(t)
	require.Len(t, sils, 1)
	id := sils[0].Id
	require.Equal(t, "/silences?created="+id, loc)

	code, body = s.do(t, http.MethodGet, "/silences?created="+id, nil)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{"Silence " + id + " created.", "ACTIVE", escaped(`alertname="NotifierFailing"`), "ana", "PagerDuty maintenance window", "NotifierFailing</strong>", "Expire"} {
		require.Contains(t, body, want)
	}
	_, body = s.do(t, http.MethodGet, "/alerts", nil)
	require.Contains(t, body, "SILENCED")
	require.Contains(t, body, "#silence-"+id)
	require.Contains(t, body, "1 alert firing (1 silenced)")

	// amtool reads the same silence through the Alertmanager API.
	code, body = s.do(t, http.MethodGet, "/api/v2/silences", nil)
	require.Equal(t, http.StatusOK, code)
	var got []struct {
		ID        string `json:"id"`
		CreatedBy string `json:"createdBy"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	require.Len(t, got, 1)
	require.Equal(t, id, got[0].ID)
	require.Equal(t, "ana", got[0].CreatedBy)

	token := s.token(t)
	tests := []struct {
		name, path, token string
		code              int
	}{
		{"without a token", "/silences/" + id + "/expire", "", http.StatusForbidden},
		{"an unknown silence", "/silences/no-such-id/expire", token, http.StatusNotFound},
		{"with the token", "/silences/" + id + "/expire", token, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _ := s.do(t, http.MethodPost, tt.path, url.Values{"csrf_token": {tt.token}})
			require.Equal(t, tt.code, code)
		})
	}
	sils = s.all(t)
	require.Equal(t, silence.SilenceStateExpired, silence.CurrentState(sils[0].StartsAt.AsTime(), sils[0].EndsAt.AsTime()))
	_, body = s.do(t, http.MethodGet, "/alerts", nil)
	require.NotContains(t, body, "SILENCED")
	require.NotContains(t, body, "silenced)")
	_, body = s.do(t, http.MethodGet, "/silences", nil)
	require.Contains(t, body, "EXPIRED")
}

func TestSilenceRoutesTakeOnlyTheirMethods(t *testing.T) {
	s := newSilenceSite(t, "")
	for _, tt := range []struct{ method, path string }{
		{http.MethodPut, "/silences"},
		{http.MethodDelete, "/silences"},
		{http.MethodGet, "/silences/x/expire"},
	} {
		code, _ := s.do(t, tt.method, tt.path, nil)
		require.Equal(t, http.StatusMethodNotAllowed, code, tt.method+" "+tt.path)
	}
}

// Behind a reverse proxy the form posts under the route prefix, and its
// cookie is scoped to it.
func TestSilenceFormUnderRoutePrefix(t *testing.T) {
	s := newSilenceSite(t, "/tocsin")
	code, body := s.do(t, http.MethodGet, "/silences", nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `action="/tocsin/silences"`)
	code, loc := s.do(t, http.MethodPost, "/silences", goodForm(s.token(t)))
	require.Equal(t, http.StatusSeeOther, code)
	require.True(t, strings.HasPrefix(loc, "/tocsin/silences?created="), loc)
	u, err := url.Parse(s.base + "/")
	require.NoError(t, err)
	require.NotEmpty(t, s.client.Jar.Cookies(u))
	root, err := url.Parse(s.srv.URL + "/")
	require.NoError(t, err)
	require.Empty(t, s.client.Jar.Cookies(root), "the cookie stays under the prefix")
}

// The "Silence…" link fills in the labels the dispatcher matches: in a
// cluster, replica is not one of them, so a silence with it would mute
// nothing.
func TestSilenceLinkLeavesOutReplicaInCluster(t *testing.T) {
	for _, tt := range []struct {
		name    string
		cluster bool
		want    string
	}{
		{"alone", false, `{alertname="NotifierFailing", integration="pagerduty", receiver="oncall", replica="eu-1"}`},
		{"in a cluster", true, `{alertname="NotifierFailing", integration="pagerduty", receiver="oncall"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSilenceSiteFor(t, "", oneAlert{labels: model.LabelSet{"replica": "eu-1"}, cluster: tt.cluster})
			_, body := s.do(t, http.MethodGet, "/alerts", nil)
			link := regexp.MustCompile(`href="/silences\?matchers=([^"#]+)#new"`).FindStringSubmatch(body)
			require.NotNil(t, link, body)
			got, err := url.QueryUnescape(html.UnescapeString(link[1]))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// With cluster.probe_replication the overview says how many of the probes
// this replica runs, and that the others show on their owners' pages.
func TestOverviewSaysWhichShareOfTheProbesTheReplicaRuns(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status pipeline.ClusterStatus
		want   string
	}{
		{"every replica runs every probe", pipeline.ClusterStatus{Name: "eu-1"}, ""},
		{"spread", pipeline.ClusterStatus{Name: "eu-1", ProbeReplication: 2, ProbesOwned: 7},
			"Each probe runs on 2 replicas (<code>cluster.probe_replication</code>): this one runs 7. Probes it does not run"},
		{"handing over", pipeline.ClusterStatus{Name: "eu-1", ProbeReplication: 1, ProbesOwned: 4, ProbesHandingOver: 3},
			"Each probe runs on 1 replica (<code>cluster.probe_replication</code>): this one runs 4 and hands 3 over to their new owners."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSilenceSiteFor(t, "", oneAlert{status: &tt.status})
			code, body := s.do(t, http.MethodGet, "/", nil)
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, body, "This replica is <strong>eu-1</strong>")
			if tt.want == "" {
				require.NotContains(t, body, "probe_replication")
				return
			}
			require.Contains(t, body, tt.want)
		})
	}
}
