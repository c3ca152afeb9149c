package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/probes"
)

// FuzzPushBodies posts arbitrary bodies, signatures and tokens to every
// endpoint that takes a body from outside today: a webhook probe with an
// HMAC secret, one without, and a heartbeat. Whatever arrives, the server
// answers with one of the statuses it documents and never panics.
func FuzzPushBodies(f *testing.F) {
	sign := func(body []byte) string {
		mac := hmac.New(sha256.New, []byte("hook-secret"))
		mac.Write(body)
		return "sha256=" + hex.EncodeToString(mac.Sum(nil))
	}
	for _, body := range [][]byte{
		nil,
		[]byte(`{"event":"ping","data":"tocsin.eu-1.0123456789abcdef","published_at":"2026-11-26T05:00:00Z","coreid":"canary"}`),
		[]byte(`{"data":{"nested":["tocsin.eu-1.00"]}}`),
		[]byte(`{"data":`),
		[]byte("\x00\xff\xfe not json at all"),
		bytes.Repeat([]byte("["), 4096),
	} {
		f.Add(body, sign(body), "beat-token")
		f.Add(body, "sha256=00", "wrong")
	}

	ep := probes.NewEndpoints(nil)
	for _, cfg := range []*configs.ProbeConfig{
		{Name: "signed", Interval: model.Duration(time.Minute), Timeout: model.Duration(time.Second), RoundTrip: &configs.RoundTripProbe{
			Send:   configs.RoundTripSend{HTTP: &configs.HTTPSend{URL: "http://127.0.0.1:1/publish", Method: http.MethodPost}},
			Expect: configs.RoundTripExpect{Webhook: &configs.WebhookExpect{Secret: "hook-secret", SignatureHeader: configs.DefaultWebhookSignatureHeader}},
		}},
		{Name: "open", Interval: model.Duration(time.Minute), Timeout: model.Duration(time.Second), RoundTrip: &configs.RoundTripProbe{
			Send:   configs.RoundTripSend{HTTP: &configs.HTTPSend{URL: "http://127.0.0.1:1/publish", Method: http.MethodPost}},
			Expect: configs.RoundTripExpect{Webhook: &configs.WebhookExpect{SignatureHeader: configs.DefaultWebhookSignatureHeader}},
		}},
		{Name: "hb", Interval: model.Duration(time.Minute), Timeout: model.Duration(time.Second),
			Heartbeat: &configs.HeartbeatProbe{Grace: model.Duration(time.Minute), Token: "beat-token"}},
	} {
		p, err := probes.New(cfg, probes.Options{Replica: "eu-1", Endpoints: ep, Logger: promslog.NewNopLogger()})
		require.NoError(f, err)
		f.Cleanup(p.Close)
	}
	s := New(Options{Logger: promslog.NewNopLogger(), Limits: Limits{MaxRequestBodyBytes: 64 << 10}})
	s.Handle(probes.WebhookPath, ep.Handler())
	s.Handle(probes.HeartbeatPath, ep.Handler())
	h := s.Handler()

	f.Fuzz(func(t *testing.T, body []byte, sig, token string) {
		for _, tc := range []struct {
			path   string
			header string
			value  string
			codes  []int
		}{
			{"/probe/webhook/signed", configs.DefaultWebhookSignatureHeader, sig, []int{204, 401, 413}},
			{"/probe/webhook/open", configs.DefaultWebhookSignatureHeader, sig, []int{204, 413}},
			{"/api/v1/heartbeats/hb", probes.HeartbeatTokenHeader, token, []int{204, 401, 413}},
		} {
			req := httptest.NewRequest(http.MethodPost, tc.path, bytes.NewReader(body))
			if validHeader(tc.value) {
				req.Header.Set(tc.header, tc.value)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Contains(t, tc.codes, rec.Code, "%s answered %d: %s", tc.path, rec.Code, rec.Body.String())
		}
	})
}

// validHeader tells whether a value can be sent as an HTTP header at all.
func validHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
