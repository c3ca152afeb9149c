package integrations_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
	"github.com/tocsin-alerting/tocsin/probes/probetest"
)

// echoVendor is a vendor at its worst: it refuses every request and puts
// the whole request, URL, headers and body, into its error reply, the way
// some vendors and proxies do. It answers in the shape each vendor's reason
// parser reads, so the echo reaches the reason tocsin keeps.
func echoVendor(t *testing.T, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s?%s", r.Method, r.URL.EscapedPath(), r.URL.RawQuery)
		for _, k := range []string{"Authorization", "X-Api-Key"} {
			if v := r.Header.Get(k); v != "" {
				fmt.Fprintf(&b, " %s: %s", k, v)
			}
		}
		fmt.Fprintf(&b, " body: %s", body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"message": b.String(), "code": 20003, "ok": false, "error": b.String()})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// smtpEcho is an SMTP server that refuses authentication and echoes what
// the client sent, decoded and not, in its reply. It speaks STARTTLS with
// pki's certificate for 127.0.0.1.
func smtpEcho(t *testing.T, pki *probetest.PKI) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cert := pki.Server
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { smtpEchoSession(c, cert) })
		}
	})
	return ln.Addr().String()
}

func smtpEchoSession(c net.Conn, cert tls.Certificate) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(s string) { _, _ = io.WriteString(c, s+"\r\n") }
	secure := false
	refuse := func(line string) {
		decoded, _ := base64.StdEncoding.DecodeString(line[strings.LastIndexByte(line, ' ')+1:])
		say(fmt.Sprintf("535 5.7.8 authentication failed for %q (%q)", line, decoded))
	}
	say("220 echo ESMTP")
	var pending []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch {
		case len(pending) > 0:
			pending = append(pending, line)
			if len(pending) == 3 { // AUTH LOGIN, user, password
				refuse(strings.Join(pending, " "))
				pending = nil
			} else {
				say("334 UGFzc3dvcmQ6")
			}
		case verb == "EHLO" || verb == "HELO":
			if secure {
				say("250-echo\r\n250 AUTH PLAIN LOGIN")
			} else {
				say("250-echo\r\n250 STARTTLS")
			}
		case verb == "STARTTLS":
			say("220 go ahead")
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
			if tc.Handshake() != nil {
				return
			}
			c, r, secure = tc, bufio.NewReader(tc), true
		case verb == "AUTH" && strings.HasPrefix(strings.ToUpper(line), "AUTH LOGIN"):
			pending = []string{line}
			say("334 VXNlcm5hbWU6")
		case verb == "AUTH":
			refuse(line)
		case verb == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// TestNoSecretLeavesThroughAnEchoingVendor sends a notification through
// every kind of integration to a vendor that echoes the request, and
// checks that no configured secret reaches the error, the log or the
// `notify test` results.
func TestNoSecretLeavesThroughAnEchoingVendor(t *testing.T) {
	dir := t.TempDir()
	const (
		routingKey  = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32"
		serviceKey  = "S3RV1C3KEYS3RV1C3KEYS3RV1C3KEY32"
		botToken    = "xoxb-1234-5678-secretbottoken"
		genieKey    = "genie-secret-0000-1111-2222"
		authToken   = "twilio-secret-auth-token"
		sid         = "AC0123456789abcdef0123456789abcdef"
		smtpPass    = "smtp-secret-password"
		hookToken   = "T0001/B0001/s3cr3tW3bh00kT0k3n"
		querySecret = "q-secret-7777"
		teamsSig    = "s1gn4tur3s1gn4tur3s1gn4tur3"
		basicPass   = "http-basic-secret-pass"
		bearer      = "http-bearer-secret-9999"
	)
	writeSecret := func(name, v string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(v+"\n"), 0o600))
		return p
	}
	bad := echoVendor(t, http.StatusBadRequest)
	slackBot := echoVendor(t, http.StatusOK) // Slack refuses with 200 and ok:false
	pki := probetest.NewPKI(t)
	smarthost := smtpEcho(t, pki)
	secrets := []string{routingKey, serviceKey, botToken, genieKey, authToken, smtpPass, "s3cr3tW3bh00kT0k3n", querySecret, teamsSig, basicPass, bearer,
		base64.StdEncoding.EncodeToString([]byte(sid + ":" + authToken)),
		base64.StdEncoding.EncodeToString([]byte("pager:" + basicPass))}

	tests := []struct{ name, yaml string }{
		{"pagerduty", fmt.Sprintf("pagerduty_configs: [{routing_key_file: %s, url: '%s/v2/enqueue'}]", writeSecret("pd", routingKey), bad.URL)},
		{"pagerduty events v1", fmt.Sprintf("pagerduty_configs: [{service_key_file: %s, url: '%s/generic/2010-04-15/create_event.json'}]", writeSecret("pdv1", serviceKey), bad.URL)},
		{"slack webhook", fmt.Sprintf("slack_configs: [{api_url_file: %s}]", writeSecret("slack", bad.URL+"/services/"+hookToken))},
		{"slack bot", fmt.Sprintf("slack_configs: [{token: %s, channel: '#oncall', api_url: '%s/api/'}]", botToken, slackBot.URL)},
		{"opsgenie", fmt.Sprintf("opsgenie_configs: [{api_key: %s, api_url: '%s'}]", genieKey, bad.URL)},
		{"webhook with a token in its query and basic auth", fmt.Sprintf("webhook_configs: [{url: '%s/hook?token=%s', http_config: {basic_auth: {username: pager, password: %s}}}]", bad.URL, querySecret, basicPass)},
		{"webhook with a bearer token", fmt.Sprintf("webhook_configs: [{url: '%s/hook', http_config: {authorization: {credentials_file: %s}}}]", bad.URL, writeSecret("bearer", bearer))},
		{"msteams", fmt.Sprintf("msteams_configs: [{webhook_url: '%s/workflows/1/triggers/manual/paths/invoke?api-version=2016-06-01&sig=%s'}]", bad.URL, teamsSig)},
		{"twilio", fmt.Sprintf("twilio_configs: [{account_sid: %s, auth_token_file: %s, from: '+15550000000', to: '+15551234567', api_url: '%s'}]", sid, writeSecret("twilio", authToken), bad.URL)},
		{"email", fmt.Sprintf("email_configs: [{to: oncall@example.com, from: tocsin@example.com, smarthost: '%s', tls_config: {ca_file: '%s'}, auth_username: pager, auth_password: %s}]", smarthost, pki.CAFile, smtpPass)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := echoReceiver(t, dir, tc.yaml, &logs)
			results := notifiers.SendToAll(context.Background(), r, notifiers.TestNotification("r", time.Now(), ""),
				notifiers.Options{Logger: slog.New(slog.NewTextHandler(syncWriter(&logs), nil)), AttemptTimeout: 5 * time.Second, MaxDeliveryTime: time.Millisecond})
			require.Len(t, results, 1)
			require.False(t, results[0].Accepted)
			out := results[0].Err.Error()
			require.Contains(t, out, "<secret>", "the vendor's echo is kept, with the secrets scrubbed: %s", out)
			for _, s := range secrets {
				require.NotContains(t, out, s)
				require.NotContains(t, logs.String(), s)
			}
		})
	}
}

func echoReceiver(t *testing.T, dir, integration string, logs *bytes.Buffer) *notifiers.Receiver {
	t.Helper()
	yml := "global: {replica: test}\nroute: {receiver: r}\nreceivers:\n- name: r\n  " + integration + "\n"
	cfg, err := configs.Load(filepath.Join(dir, "tocsin.yml"), []byte(yml))
	require.NoError(t, err)
	r, err := integrations.Build(cfg.Receivers[0], integrations.Options{
		Logger: slog.New(slog.NewTextHandler(syncWriter(logs), &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	return r
}

// recordingVendor accepts everything and records what authenticated each
// request: its Authorization header, path and query, and body.
type recordingVendor struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func newRecordingVendor(t *testing.T) *recordingVendor {
	v := &recordingVendor{}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v.mu.Lock()
		v.seen = append(v.seen, r.Header.Get("Authorization")+" "+r.URL.RequestURI()+" "+string(body))
		v.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"ts":"1.1","channel":"C1","status":"success","result":"Request will be processed","requestId":"r1","sid":"SM1"}`)
	}))
	t.Cleanup(v.Close)
	return v
}

func (v *recordingVendor) last() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.seen) == 0 {
		return ""
	}
	return v.seen[len(v.seen)-1]
}

// TestRotatedSecretFileIsUsedWithoutAReload rewrites each kind of *_file
// between two sends: the second request carries the new secret.
func TestRotatedSecretFileIsUsedWithoutAReload(t *testing.T) {
	v := newRecordingVendor(t)
	tests := []struct {
		name     string
		yaml     string // %s is the secret file
		old, new string
		seen     func(secret string) string // how the secret shows in a request
	}{
		{"pagerduty routing_key_file", "pagerduty_configs: [{routing_key_file: %s, url: '" + v.URL + "/v2/enqueue'}]",
			"R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32", "N3WK3YN3WK3YN3WK3YN3WK3YN3WK3Y32", func(s string) string { return `"routing_key":"` + s + `"` }},
		{"slack api_url_file", "slack_configs: [{api_url_file: %s}]",
			v.URL + "/services/T1/B1/old", v.URL + "/services/T1/B1/new", func(s string) string { return strings.TrimPrefix(s, v.URL) + " " }},
		{"slack token_file", "slack_configs: [{token_file: %s, channel: '#oncall', api_url: '" + v.URL + "/api/'}]",
			"xoxb-old", "xoxb-new", func(s string) string { return "Bearer " + s }},
		{"opsgenie api_key_file", "opsgenie_configs: [{api_key_file: %s, api_url: '" + v.URL + "'}]",
			"genie-old", "genie-new", func(s string) string { return "GenieKey " + s }},
		{"webhook url_file", "webhook_configs: [{url_file: %s}]",
			v.URL + "/hook?token=old", v.URL + "/hook?token=new", func(s string) string { return strings.TrimPrefix(s, v.URL) + " " }},
		{"msteams webhook_url_file", "msteams_configs: [{webhook_url_file: %s}]",
			v.URL + "/invoke?sig=old", v.URL + "/invoke?sig=new", func(s string) string { return strings.TrimPrefix(s, v.URL) + " " }},
		{"twilio auth_token_file", "twilio_configs: [{account_sid: AC0123456789abcdef0123456789abcdef, auth_token_file: %s, from: '+15550000000', to: '+15551234567', api_url: '" + v.URL + "'}]",
			"token-old", "token-new", func(s string) string {
				return "Basic " + base64.StdEncoding.EncodeToString([]byte("AC0123456789abcdef0123456789abcdef:"+s))
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "secret")
			require.NoError(t, os.WriteFile(file, []byte(tc.old), 0o600))
			var logs bytes.Buffer
			r := echoReceiver(t, dir, fmt.Sprintf(tc.yaml, file), &logs)
			n := r.Integrations[0].Notifier
			send := func(key string) {
				t.Helper()
				_, err := n.Notify(context.Background(), notification(key, model.AlertFiring))
				require.NoError(t, err)
			}

			send("{}:{a=\"1\"}")
			require.Contains(t, v.last(), tc.seen(tc.old))
			require.NoError(t, os.WriteFile(file, []byte(tc.new+"\n"), 0o600))
			send("{}:{a=\"2\"}")
			require.Contains(t, v.last(), tc.seen(tc.new))

			// A file that disappears mid-rotation does not stop the page: the
			// value loaded last is sent, and the log says why.
			require.NoError(t, os.Remove(file))
			send("{}:{a=\"3\"}")
			require.Contains(t, v.last(), tc.seen(tc.old))
			require.Contains(t, logs.String(), "cannot read secret file")
		})
	}
}
