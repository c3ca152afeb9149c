package integrations_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/notifiers"
)

// storm is one group of n firing alerts, as a broker outage produces.
func storm(n int) *notifiers.Notification {
	notif := notification(`{}:{alertname="ProbeFailing"}`, model.AlertFiring)
	base := notif.Alerts[0]
	notif.Alerts = make([]*model.Alert, 0, n)
	for i := range n {
		a := *base
		a.Labels = base.Labels.Clone()
		a.Labels["device"] = model.LabelValue(fmt.Sprintf("device-%05d", i))
		notif.Alerts = append(notif.Alerts, &a)
	}
	return notif
}

// TestStormFitsEveryVendor sends a group of 10,000 alerts through every
// integration: each must cut its payload to what its vendor accepts.
func TestStormFitsEveryVendor(t *testing.T) {
	if testing.Short() {
		t.Skip("sends ten thousand alerts")
	}
	notif := storm(10000)
	for _, f := range fakes(t) {
		t.Run(f.name, func(t *testing.T) {
			r := receiver(t, f.yaml, &bytes.Buffer{})
			_, err := r.Integrations[0].Notifier.Notify(t.Context(), notif)
			require.NoError(t, err)
			require.Empty(t, f.violation())
			require.Len(t, f.pages(), 1)
		})
	}
}

// BenchmarkStormToThreeVendors renders and sends one group of 10,000
// alerts to PagerDuty, Slack and Opsgenie fakes at once, as strategy all
// does; one op lasts until the last vendor accepted.
func BenchmarkStormToThreeVendors(b *testing.B) {
	var ns []notifiers.Notifier
	for _, f := range fakes(b) {
		switch f.name {
		case "pagerduty", "slack webhook", "opsgenie":
			ns = append(ns, receiver(b, f.yaml, &bytes.Buffer{}).Integrations[0].Notifier)
		}
	}
	notif := storm(10000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		for _, n := range ns {
			wg.Go(func() {
				if _, err := n.Notify(b.Context(), notif); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
}

// BenchmarkStormPerVendor is the same storm through each integration alone.
func BenchmarkStormPerVendor(b *testing.B) {
	notif := storm(10000)
	for _, f := range fakes(b) {
		n := receiver(b, f.yaml, &bytes.Buffer{}).Integrations[0].Notifier
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := n.Notify(b.Context(), notif); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
