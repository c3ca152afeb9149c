package notifiers

import (
	"context"
	"slices"
	"testing"
	"time"

	amalert "github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/client_golang/prometheus"
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
// receiver by a reload is told the group's first notification, which the
// other already had and is not told again; later both hear the repeat.
func TestEachIntegrationHearsItsOwnReason(t *testing.T) {
	a, b := newRecorder(), newRecorder()
	rc := routeCfg("oncall", []model.LabelName{"alertname"}, 0, time.Minute, time.Hour)
	h := newHarness(t, rc, Options{}, receiver("oncall", configs.StrategyAll, 0, integration("a", a, true)))
	down := alert(h.clock.Now(), "alertname", "Down")
	down.EndsAt = down.StartsAt.Add(24 * time.Hour)
	h.d.Send(down)
	require.Equal(t, "first notification", a.next(t).Reason)
	h.waitFlushes(t, 1) // logged when told, before the reload

	route, err := NewRoute(rc)
	require.NoError(t, err)
	require.NoError(t, h.d.Update(route, []*Receiver{receiver("oncall", configs.StrategyAll, 0, integration("a", a, true), integration("b", b, true))}))
	require.Equal(t, "first notification", b.next(t).Reason)
	h.waitFlushes(t, 1)
	require.Len(t, a.received(), 1, "a is not told the first notification again")

	h.clock.Advance(time.Hour)
	require.Equal(t, "repeat interval elapsed", a.next(t).Reason)
	require.Equal(t, "repeat interval elapsed", b.next(t).Reason)
}

// sendsResolved is Alertmanager's ResolvedSender.
type sendsResolved bool

func (s sendsResolved) SendResolved() bool { return bool(s) }

// A group's life, flush by flush, through Alertmanager's own dedup stage
// and notification log, and through needsUpdate with tocsin's log entry:
// both give the same reason at every step.
func TestReasonsAreAlertmanagersDedupStages(t *testing.T) {
	alertA, alertB := model.LabelSet{"alertname": "Down", "probe": "a"}, model.LabelSet{"alertname": "Down", "probe": "b"}
	const repeat = 4 * time.Hour
	steps := []struct {
		name             string
		firing, resolved []model.LabelSet
		later            time.Duration // how long after the previous notification
	}{
		{"an alert fires", []model.LabelSet{alertA}, nil, 0},
		{"another joins", []model.LabelSet{alertA, alertB}, nil, time.Minute},
		{"one resolves", []model.LabelSet{alertA}, []model.LabelSet{alertB}, time.Minute},
		{"nothing changes", []model.LabelSet{alertA}, []model.LabelSet{alertB}, time.Minute},
		{"nothing changes for long", []model.LabelSet{alertA}, []model.LabelSet{alertB}, repeat + time.Minute},
		{"all resolve", nil, []model.LabelSet{alertA, alertB}, time.Minute},
		{"one fires again", []model.LabelSet{alertA}, nil, time.Minute},
	}
	wantReasons := map[bool][]string{
		true:  {"first notification", "new alerts added", "some alerts resolved", "none", "repeat interval elapsed", "all alerts resolved", "first notification"},
		false: {"first notification", "new alerts added", "none", "none", "repeat interval elapsed", "all alerts resolved", "first notification"},
	}
	for _, resolved := range []bool{true, false} {
		var reasons []string
		log, err := nflog.New(nflog.Options{Retention: time.Hour, Metrics: prometheus.NewRegistry()})
		require.NoError(t, err)
		recv := &nflogpb.Receiver{GroupName: "oncall", Integration: "webhook"}
		stage := amnotify.NewDedupStage(sendsResolved(resolved), log, recv)
		var entry *logEntry
		at := time.Now()
		for _, step := range steps {
			at = at.Add(step.later)
			var alerts []*amalert.Alert
			var firing, gone []model.Fingerprint
			for _, ls := range step.firing {
				alerts = append(alerts, &amalert.Alert{Alert: model.Alert{Labels: ls, StartsAt: at.Add(-time.Hour)}})
				firing = append(firing, ls.Fingerprint())
			}
			for _, ls := range step.resolved {
				// Alertmanager tells resolved alerts by the wall clock.
				alerts = append(alerts, &amalert.Alert{Alert: model.Alert{Labels: ls, StartsAt: at.Add(-time.Hour), EndsAt: time.Now().Add(-time.Second)}})
				gone = append(gone, ls.Fingerprint())
			}
			sortFingerprints(firing, gone)
			ctx := amnotify.WithGroupKey(context.Background(), "{}:{alertname=\"Down\"}")
			ctx = amnotify.WithRepeatInterval(ctx, repeat)
			ctx = amnotify.WithNow(ctx, at)
			ctx, _, err := stage.Exec(ctx, nil, alerts...)
			require.NoError(t, err)
			want, _ := amnotify.NotificationReason(ctx)

			if !resolved {
				gone = nil
			}
			got := needsUpdate(entry, firing, gone, resolved, repeat, at)
			require.Equal(t, want, got, "%s (send_resolved %t)", step.name, resolved)
			reasons = append(reasons, got.String())
			if got == amnotify.ReasonDoNotNotify {
				continue
			}
			// Both logs record what was sent, as each sender does.
			amFiring, _ := amnotify.FiringAlerts(ctx)
			amResolved, _ := amnotify.ResolvedAlerts(ctx)
			require.NoError(t, log.Log(recv, "{}:{alertname=\"Down\"}", amFiring, amResolved, nil, time.Hour))
			// Alertmanager's log stamps the entry with the wall clock:
			// tocsin's entry gets the same time.
			logged, err := log.Query(nflog.QGroupKey("{}:{alertname=\"Down\"}"), nflog.QReceiver(recv))
			require.NoError(t, err)
			entry = &logEntry{Firing: firing, Resolved: gone, At: logged[0].Timestamp.AsTime()}
		}
		require.Equal(t, wantReasons[resolved], reasons, "send_resolved %t", resolved)
	}
}

func sortFingerprints(sets ...[]model.Fingerprint) {
	for _, s := range sets {
		slices.Sort(s)
	}
}
