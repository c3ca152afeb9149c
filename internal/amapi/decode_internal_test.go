package amapi

import (
	"encoding/json"
	"testing"

	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/stretchr/testify/require"
)

// FuzzAlertsDecodeAsGenerated: a POST body decoded in one pass gives the
// alerts the generated models.PostableAlerts gives, and fails where it
// fails.
func FuzzAlertsDecodeAsGenerated(f *testing.F) {
	for _, body := range []string{
		`[{"labels":{"alertname":"BrokerDown","probe":"p1"},"annotations":{"summary":"x"}}]`,
		`[{"labels":{"alertname":"A"},"startsAt":"2026-11-30T00:00:00Z","endsAt":"2026-11-30T01:00:00.123+02:00","generatorURL":"http://prom/graph"}]`,
		`[{"labels":{}},null,{"Labels":{"a":"b"},"STARTSAT":"2026-11-30T00:00:00Z","generatorurl":"x"}]`,
		`[{"labels":{"a":"b"},"labels":{"c":"d"},"unknown":1}]`,
		`[{"labels":{"a":1}}]`, `[{"startsAt":"yesterday"}]`, `[{"endsAt":5}]`, `[{"generatorURL":[]}]`,
		`[{"annotations":null,"labels":null}]`, `[1]`, `[`, `null`, `{}`, `[]`, "\x00\xff",
	} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var want models.PostableAlerts
		wantErr := json.Unmarshal([]byte(body), &want)
		var got []*postableAlert
		err := json.Unmarshal([]byte(body), &got)
		require.Equal(t, wantErr != nil, err != nil, "generated: %v, one pass: %v", wantErr, err)
		if err == nil {
			require.Equal(t, want, postable(got))
		}
	})
}
