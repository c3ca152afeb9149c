package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/notifiers/webhook"
)

// The receiver's byte scan finds what decoding the payload finds: the
// instance of each firing alert, and none of the resolved ones, also when
// the group's common labels name an instance.
func TestFiringInstancesAgreesWithDecoding(t *testing.T) {
	now := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	msg := webhook.Message{Version: webhook.Version, Status: "firing", Receiver: "hook",
		CommonLabels: model.LabelSet{"instance": "host-00007"}}
	for i, status := range []string{"firing", "resolved", "firing", "firing", "resolved"} {
		msg.Alerts = append(msg.Alerts, webhook.Alert{
			Status: status, StartsAt: now,
			Labels:      model.LabelSet{"alertname": "StormAlert", "instance": model.LabelValue(instanceName(i))},
			Annotations: model.LabelSet{"summary": `a "quoted" storm`},
		})
	}
	body, err := json.Marshal(msg)
	require.NoError(t, err)

	var decoded webhook.Message
	require.NoError(t, json.Unmarshal(body, &decoded))
	want := []string{"host-00007"} // the common labels, under the notification's status
	for _, a := range decoded.Alerts {
		if a.Status == "firing" {
			want = append(want, string(a.Labels["instance"]))
		}
	}
	got, err := firingInstances(body)
	require.NoError(t, err)
	require.Equal(t, want, got)

	_, err = firingInstances([]byte(`{"alerts":[{"labels":{"instance":"host-1"}}]}`))
	require.Error(t, err, "an alert without a status")
}
