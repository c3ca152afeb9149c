package amapi

import (
	"encoding/json"
	"maps"
	"reflect"
	"testing"

	v2 "github.com/prometheus/alertmanager/api/v2"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// toAlerts gives the alerts Alertmanager's conversion gives, without the
// labels whose value is empty.
func TestToAlertsAsAlertmanager(t *testing.T) {
	for _, body := range []string{
		`[{"labels":{"alertname":"A","job":"node","instance":"h1"},"annotations":{"summary":"down"},"generatorURL":"http://prom/graph"},
		  {"labels":{"alertname":"A","job":"node","instance":"h2"},"annotations":{"summary":"down"},"generatorURL":"http://prom/graph"},
		  {"labels":{"alertname":"A","job":"","instance":"h3"},"annotations":{"summary":"h3 is down"}},
		  {"labels":{"alertname":"B"},"startsAt":"2026-11-30T00:00:00Z","endsAt":"2026-11-30T01:00:00Z"},
		  {"labels":{"alertname":"C"},"annotations":{}},
		  {"labels":{"alertname":"D"},"annotations":{"summary":"","":"x"}}]`,
		`[]`,
	} {
		var in models.PostableAlerts
		require.NoError(t, json.Unmarshal([]byte(body), &in))
		want := v2.OpenAPIAlertsToAlerts(t.Context(), in)
		got := toAlerts(in)
		require.Len(t, got, len(want))
		for i, w := range want {
			maps.DeleteFunc(w.Labels, func(_ model.LabelName, v model.LabelValue) bool { return v == "" })
			require.Equal(t, w.Alert, got[i].Alert, "alert %d", i)
			require.NotNil(t, got[i].Annotations, "alert %d", i)
		}
	}
}

// Alerts of one request with the same annotations share one set of them;
// different ones, and label sets, are never shared.
func TestToAlertsSharesRepeatedAnnotations(t *testing.T) {
	var in models.PostableAlerts
	require.NoError(t, json.Unmarshal([]byte(`[
		{"labels":{"alertname":"A","instance":"h1"},"annotations":{"summary":"down"}},
		{"labels":{"alertname":"A","instance":"h2"},"annotations":{"summary":"down"}},
		{"labels":{"alertname":"A","instance":"h3"},"annotations":{"summary":"h3 is down"}},
		{"labels":{"alertname":"A","instance":"h1"},"annotations":{"summary":"down"}},
		{"labels":{"alertname":"B"}},
		{"labels":{"alertname":"C"}}]`), &in))
	got := toAlerts(in)
	same := func(i, j int) bool {
		return reflect.ValueOf(got[i].Annotations).UnsafePointer() == reflect.ValueOf(got[j].Annotations).UnsafePointer()
	}
	require.True(t, same(0, 1))
	require.True(t, same(0, 3))
	require.False(t, same(0, 2))
	require.True(t, same(4, 5))
	for i := range got {
		for j := range i {
			require.NotEqual(t, reflect.ValueOf(got[i].Labels).UnsafePointer(), reflect.ValueOf(got[j].Labels).UnsafePointer())
		}
	}
}
