package notifiers

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// A route label that cannot render on a group's alerts is left out, with
// an error in the log, and the notification still leaves with the others.
func TestARouteLabelThatFailsOnTheAlertsIsLeftOut(t *testing.T) {
	a := newRecorder()
	rc := routeCfg("oncall", []model.LabelName{"alertname"}, 0, time.Minute, time.Hour)
	rc.Labels = model.LabelSet{
		"team": "{{ .CommonLabels.team }}",
		// The samples have no label x: only real alerts reach the index.
		"bad": `{{ if .CommonLabels.x }}{{ index .Alerts 5 }}{{ end }}`,
	}
	h := newHarness(t, rc, Options{}, receiver("oncall", configs.StrategyAll, 0, integration("a", a, true)))
	require.NoError(t, h.d.route.checkLabels(), "the samples render")
	h.d.Send(alert(h.clock.Now(), "alertname", "Down", "team", "core", "x", "1"))
	require.Equal(t, model.LabelSet{"team": "core"}, a.next(t).RouteLabels)
	require.Contains(t, h.logs.String(), "route label cannot render")
	require.Contains(t, h.logs.String(), "route label bad: line 1:27:")
}
