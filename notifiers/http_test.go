package notifiers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/notifiers"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"30", 30 * time.Second, true},
		{" 5 ", 5 * time.Second, true},
		{"-1", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"Thu, 26 Nov 2026 05:02:00 GMT", 2 * time.Minute, true},
		{"soon", 0, false},
	} {
		got, ok := notifiers.ParseRetryAfter(tc.in, now)
		require.Equal(t, tc.ok, ok, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestDefaultReason(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}`, "Event object is invalid: Length of 'routing_key' is incorrect"},
		{422, `{"message":"Request body is not processable.","errors":{"message":"Message can not be empty."}}`, "Request body is not processable.: Message can not be empty."},
		{400, `{"error":{"code":"InvalidRequestContent","message":"bad card"}}`, "InvalidRequestContent: bad card"},
		{200, `{"ok":false,"error":"channel_not_found"}`, "channel_not_found"},
		{400, "invalid_payload\n", "invalid_payload"},
		{502, "<html><body>Bad Gateway</body></html>", "Bad Gateway"},
		{503, "", "Service Unavailable"},
	} {
		require.Equal(t, tc.want, notifiers.DefaultReason(tc.status, []byte(tc.body)))
	}
}

func TestHTTPSenderClassifiesAnswers(t *testing.T) {
	now := time.Date(2026, 11, 26, 5, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		retry      bool
		wantErr    bool
		retryAfter time.Duration
	}{
		{name: "accepted", status: 202, body: `{"status":"success"}`},
		{name: "bad request is permanent", status: 400, body: `{"message":"nope"}`, wantErr: true},
		{name: "unauthorized is permanent", status: 401, body: `{"message":"Could not authenticate"}`, wantErr: true},
		{name: "429 waits for seconds", status: 429, header: map[string]string{"Retry-After": "12"}, retry: true, wantErr: true, retryAfter: 12 * time.Second},
		{name: "429 waits for a date", status: 429, header: map[string]string{"Retry-After": now.Add(time.Minute).Format(http.TimeFormat)}, retry: true, wantErr: true, retryAfter: time.Minute},
		{name: "503 with Retry-After", status: 503, header: map[string]string{"Retry-After": "3"}, retry: true, wantErr: true, retryAfter: 3 * time.Second},
		{name: "500 retries", status: 500, retry: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				require.Equal(t, "application/json", r.Header.Get("Content-Type"))
				require.Equal(t, "tocsin", r.Header.Get("User-Agent"))
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			s, err := notifiers.NewHTTPSender("test", nil, notifiers.VendorOptions{Now: func() time.Time { return now }})
			require.NoError(t, err)
			body, retry, err := s.PostJSON(context.Background(), srv.URL+"/secret-token", nil, map[string]string{"a": "b"}, nil)
			require.Equal(t, tc.retry, retry)
			if !tc.wantErr {
				require.NoError(t, err)
				require.Equal(t, tc.body, string(body))
				return
			}
			var ve *notifiers.VendorError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.status, ve.StatusCode)
			require.Equal(t, tc.retryAfter, ve.RetryAfter)
			require.NotContains(t, err.Error(), "secret-token")
		})
	}
}

func TestHTTPSenderNetworkErrorHidesTheURL(t *testing.T) {
	s, err := notifiers.NewHTTPSender("test", nil, notifiers.VendorOptions{})
	require.NoError(t, err)
	_, retry, err := s.PostJSON(context.Background(), "http://127.0.0.1:1/hooks/T0K3N", nil, struct{}{}, nil)
	require.Error(t, err)
	require.True(t, retry)
	require.NotContains(t, err.Error(), "T0K3N")
}

func TestTruncate(t *testing.T) {
	require.Equal(t, "abc", notifiers.Truncate("abc", 3))
	require.Equal(t, "ab…", notifiers.Truncate("abcd", 3))
	require.Equal(t, "äö…", notifiers.Truncate("äöüß", 3))
	require.Equal(t, 1024, len([]rune(notifiers.Truncate(string(make([]rune, 5000)), 1024))))
}
