package notifiers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// hookNotifier posts the notification as JSON to a URL that, like Slack's
// and Teams' webhooks, carries its token in the path.
type hookNotifier struct{ url string }

func (h hookNotifier) Notify(ctx context.Context, n *Notification) (bool, error) {
	body, err := json.Marshal(n)
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	return Retryable(resp.StatusCode), &VendorError{Integration: "hook", StatusCode: resp.StatusCode, Reason: strings.TrimSpace(string(msg))}
}

func TestSecretsNeverAppearInLogsOrErrors(t *testing.T) {
	const secret = "T0001/B0001/s3cr3tT0k3n"
	refused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid_token", http.StatusForbidden)
	}))
	defer refused.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close() // connection refused: Go's error names the whole URL

	witness := newRecorder()
	rc := receiver("oncall", configs.StrategyAll, 0,
		Integration{Name: "slack", Notifier: hookNotifier{refused.URL + "/services/" + secret}, SendResolved: true},
		Integration{Name: "msteams", Notifier: hookNotifier{goneURL + "/webhook/" + secret}, SendResolved: true},
		Integration{Name: "witness", Notifier: witness, SendResolved: true},
	)
	h := newHarness(t, routeCfg("oncall", []model.LabelName{"alertname"}, time.Second, time.Hour, time.Hour), Options{MaxDeliveryTime: time.Second, BackoffMin: 10 * time.Second}, rc)
	h.d.Send(alert(h.clock.Now(), "alertname", "BrokerDown"))
	h.clock.Advance(time.Second)
	witness.next(t)
	h.waitFlushes(t, 1)
	h.clock.Advance(time.Second) // NotifierFailing for both, through the witness
	nf := witness.next(t)
	h.waitFlushes(t, 1)

	logs := h.logs.String()
	require.Contains(t, logs, "invalid_token", "the vendor's reason is kept")
	require.Contains(t, logs, "connection refused")
	require.NotContains(t, logs, "s3cr3t")
	for _, a := range nf.Alerts {
		require.NotContains(t, string(a.Annotations["description"]), "s3cr3t")
	}
	require.Len(t, nf.Alerts, 2)

	// The same through the test page path, which prints errors to a console.
	results := SendToAll(context.Background(), rc, TestNotification("oncall", time.Now(), ""), Options{AttemptTimeout: time.Second, MaxDeliveryTime: time.Millisecond, BackoffMin: time.Hour})
	require.Len(t, results, 3)
	for _, r := range results[:2] {
		require.False(t, r.Accepted)
		require.NotContains(t, r.Err.Error(), "s3cr3t")
	}
	require.Contains(t, results[0].Err.Error(), "invalid_token")
	var ve *VendorError
	require.True(t, errors.As(results[0].Err, &ve))
	require.Equal(t, http.StatusForbidden, ve.StatusCode)
	require.Equal(t, OutcomeRejected, results[0].Outcome)
}

func TestSendToAllReportsEveryIntegration(t *testing.T) {
	ok, bad, stuck := newRecorder(), newRecorder(), newRecorder()
	bad.answer = func(context.Context, int, *Notification) (bool, error) {
		return false, &VendorError{Integration: "opsgenie", StatusCode: 422, Reason: "Key format is not valid"}
	}
	stuck.answer = hang
	rc := receiver("oncall", configs.StrategyFailover, time.Second,
		integration("pagerduty", ok, true), integration("opsgenie", bad, true), integration("slack", stuck, true))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	n := TestNotification("oncall", time.Now(), "http://tocsin.example")
	results := SendToAll(ctx, rc, n, Options{})
	require.Equal(t, []string{"pagerduty[0]", "opsgenie[0]", "slack[0]"}, []string{results[0].Integration, results[1].Integration, results[2].Integration})
	require.True(t, results[0].Accepted)
	require.Equal(t, 1, results[0].Attempts)
	require.ErrorContains(t, results[1].Err, "Key format is not valid")
	require.Equal(t, OutcomeFailed, results[2].Outcome)

	got := ok.next(t)
	require.True(t, got.Test)
	require.Equal(t, model.AlertFiring, got.Status)
	require.Len(t, got.Firing(), 1)
	require.Equal(t, AlertTestPage, string(got.CommonLabels["alertname"]))
	require.NotEqual(t, TestNotification("oncall", time.Now().Add(time.Second), "").DedupKey, got.DedupKey, "every test page is its own incident")
}
