package amapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/internal/amapi"
)

// FuzzAPIBodies posts arbitrary bodies to the two endpoints of the
// Alertmanager API that take one: alerts and silences. Whatever arrives,
// the API answers with a status it documents and never panics.
func FuzzAPIBodies(f *testing.F) {
	for _, body := range []string{
		`[{"labels":{"alertname":"BrokerDown","probe":"p1"},"annotations":{"summary":"x"}}]`,
		`[{"labels":{"alertname":"A"},"startsAt":"2026-11-30T00:00:00Z","endsAt":"2026-11-30T01:00:00Z","generatorURL":"http://prom/graph"}]`,
		`[{"labels":{}}]`,
		`{"matchers":[{"name":"alertname","value":"A","isRegex":false,"isEqual":true}],"startsAt":"2026-11-30T00:00:00Z","endsAt":"2030-01-01T00:00:00Z","createdBy":"me","comment":"c"}`,
		`{"matchers":[{"name":"a","value":"(","isRegex":true}],"startsAt":"2026-11-30T00:00:00Z","endsAt":"2030-01-01T00:00:00Z","createdBy":"me","comment":"c"}`,
		`[`, `null`, `{}`, `[]`, "\x00\xff", strings.Repeat("[", 4096),
	} {
		f.Add(body, true)
		f.Add(body, false)
	}
	e := newEnv(f, amapi.Options{})
	ok := []int{http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusNotFound, http.StatusUnprocessableEntity}
	f.Fuzz(func(t *testing.T, body string, alerts bool) {
		path := "/api/v2/silences"
		if alerts {
			path = "/api/v2/alerts"
		}
		resp, err := http.Post(e.url+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.True(t, slices.Contains(ok, resp.StatusCode), "%s answered %d", path, resp.StatusCode)
	})
}
