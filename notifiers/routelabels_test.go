package notifiers

import (
	"testing"
	"time"

	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// needsUpdate gives the reasons Alertmanager's dedup stage gives, case
// by case.
func TestNeedsUpdateGivesAlertmanagersReasons(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fps := func(ns ...model.Fingerprint) []model.Fingerprint { return ns }
	entry := func(firing, resolved []model.Fingerprint, ago time.Duration) *logEntry {
		return &logEntry{Firing: firing, Resolved: resolved, At: now.Add(-ago)}
	}
	tests := []struct {
		name             string
		prev             *logEntry
		firing, resolved []model.Fingerprint
		sendResolved     bool
		want             amnotify.NotifyReason
		wantText         string
	}{
		{"never told, firing", nil, fps(1), nil, true, amnotify.ReasonFirstNotification, "first notification"},
		{"never told, only resolved", nil, nil, fps(1), true, amnotify.ReasonDoNotNotify, "none"},
		{"a new alert joins", entry(fps(1), nil, time.Minute), fps(1, 2), nil, true, amnotify.ReasonNewAlertsInGroup, "new alerts added"},
		{"firing again after the group was told resolved", entry(nil, fps(1), time.Minute), fps(1), nil, true, amnotify.ReasonFirstNotification, "first notification"},
		{"everything resolved", entry(fps(1), nil, time.Minute), nil, fps(1), false, amnotify.ReasonAllAlertsResolved, "all alerts resolved"},
		{"one of two resolved", entry(fps(1, 2), nil, time.Minute), fps(1), fps(2), true, amnotify.ReasonNewResolvedAlerts, "some alerts resolved"},
		{"one of two resolved, not sent resolved", entry(fps(1, 2), nil, time.Minute), fps(1), fps(2), false, amnotify.ReasonDoNotNotify, "none"},
		{"unchanged past repeat_interval", entry(fps(1), nil, 5*time.Hour), fps(1), nil, true, amnotify.ReasonRepeatIntervalElapsed, "repeat interval elapsed"},
		{"unchanged within repeat_interval", entry(fps(1), nil, time.Hour), fps(1), nil, true, amnotify.ReasonDoNotNotify, "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := needsUpdate(tt.prev, tt.firing, tt.resolved, tt.sendResolved, 4*time.Hour, now)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.wantText, got.String())
		})
	}
}

// Each integration of a receiver hears its own reason: one added to the
// receiver by a reload gets the first notification while the other is
// told the repeat.
func TestEachIntegrationHearsItsOwnReason(t *testing.T) {
	a, b := newRecorder(), newRecorder()
	rc := routeCfg("oncall", []model.LabelName{"alertname"}, 0, time.Minute, time.Hour)
	h := newHarness(t, rc, Options{}, receiver("oncall", configs.StrategyAll, 0, integration("a", a, true)))
	h.d.Send(alert(h.clock.Now(), "alertname", "Down"))
	require.Equal(t, "first notification", a.next(t).Reason)
	h.waitFlushes(t, 1)

	route, err := NewRoute(rc)
	require.NoError(t, err)
	require.NoError(t, h.d.Update(route, []*Receiver{receiver("oncall", configs.StrategyAll, 0, integration("a", a, true), integration("b", b, true))}))
	h.clock.Advance(time.Hour)
	h.d.Send(alert(h.clock.Now(), "alertname", "Down"))
	require.Equal(t, "repeat interval elapsed", a.next(t).Reason)
	require.Equal(t, "first notification", b.next(t).Reason)
}

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
