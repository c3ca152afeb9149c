package notifiers

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

func TestInhibitorFollowsAlertmanagerSemantics(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	firing := func(ls model.LabelSet) *model.Alert { return &model.Alert{Labels: ls, StartsAt: now.Add(-time.Minute)} }
	resolved := func(ls model.LabelSet) *model.Alert {
		return &model.Alert{Labels: ls, StartsAt: now.Add(-time.Hour), EndsAt: now.Add(-time.Second)}
	}
	brokerDown := model.LabelSet{"alertname": "BrokerDown", "severity": "critical", "service": "broker"}
	tests := []struct {
		name    string
		rule    configs.InhibitRule
		sources []*model.Alert
		target  model.LabelSet
		want    bool
	}{
		{
			name:    "matchers with equal labels",
			rule:    configs.InhibitRule{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{"service"}},
			sources: []*model.Alert{firing(brokerDown)},
			target:  model.LabelSet{"alertname": "ProbeSlow", "severity": "warning", "service": "broker"},
			want:    true,
		},
		{
			name:    "different value of an equal label",
			rule:    configs.InhibitRule{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{"service"}},
			sources: []*model.Alert{firing(brokerDown)},
			target:  model.LabelSet{"alertname": "ProbeSlow", "severity": "warning", "service": "api"},
		},
		{
			name:    "equal label missing on both sides counts as equal",
			rule:    configs.InhibitRule{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{"cluster"}},
			sources: []*model.Alert{firing(brokerDown)},
			target:  model.LabelSet{"alertname": "ProbeSlow", "severity": "warning"},
			want:    true,
		},
		{
			name:    "deprecated source_match and target_match_re",
			rule:    configs.InhibitRule{SourceMatch: map[string]string{"alertname": "BrokerDown"}, TargetMatchRE: map[string]string{"alertname": "Probe.*"}},
			sources: []*model.Alert{firing(brokerDown)},
			target:  model.LabelSet{"alertname": "ProbeFailing"},
			want:    true,
		},
		{
			name:    "match_re is anchored",
			rule:    configs.InhibitRule{SourceMatch: map[string]string{"alertname": "BrokerDown"}, TargetMatchRE: map[string]string{"alertname": "Probe"}},
			sources: []*model.Alert{firing(brokerDown)},
			target:  model.LabelSet{"alertname": "ProbeFailing"},
		},
		{
			name:    "a resolved source inhibits nothing",
			rule:    configs.InhibitRule{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`}},
			sources: []*model.Alert{resolved(brokerDown)},
			target:  model.LabelSet{"alertname": "ProbeSlow", "severity": "warning"},
		},
		{
			name:    "an alert does not inhibit itself",
			rule:    configs.InhibitRule{SourceMatchers: []string{`service="broker"`}, TargetMatchers: []string{`service="broker"`}},
			sources: []*model.Alert{firing(brokerDown)},
			target:  brokerDown,
		},
		{
			name:    "alerts matching both sides do not inhibit each other",
			rule:    configs.InhibitRule{SourceMatchers: []string{`service="broker"`}, TargetMatchers: []string{`service="broker"`}},
			sources: []*model.Alert{firing(model.LabelSet{"alertname": "A", "service": "broker"})},
			target:  model.LabelSet{"alertname": "B", "service": "broker"},
		},
		{
			name:    "target side does not match",
			rule:    configs.InhibitRule{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`}},
			sources: []*model.Alert{firing(brokerDown)},
			target:  model.LabelSet{"alertname": "Other", "severity": "critical"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule := tt.rule
			ih := NewInhibitor([]*configs.InhibitRule{&rule})
			ih.Observe(tt.sources...)
			got, _ := ih.Inhibits(tt.target, now)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.want, len(ih.InhibitedBy(tt.target, now)) > 0, "InhibitedBy agrees")
		})
	}
}

func TestInhibitionEndsWhenTheSourceResolves(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ih := NewInhibitor([]*configs.InhibitRule{{Name: "broker-down", SourceMatchers: []string{`alertname="BrokerDown"`}, TargetMatchers: []string{`alertname="ProbeFailing"`}}})
	src := &model.Alert{Labels: model.LabelSet{"alertname": "BrokerDown"}, StartsAt: now}
	target := model.LabelSet{"alertname": "ProbeFailing"}

	ih.Observe(src)
	got, rule := ih.Inhibits(target, now)
	require.True(t, got)
	require.Equal(t, "broker-down", rule)

	ih.Observe(&model.Alert{Labels: src.Labels, StartsAt: now, EndsAt: now.Add(time.Minute)})
	got, _ = ih.Inhibits(target, now)
	require.True(t, got, "still firing until its end")
	got, _ = ih.Inhibits(target, now.Add(2*time.Minute))
	require.False(t, got)

	ih.Forget(now.Add(2 * time.Minute))
	require.Empty(t, ih.rules[0].sources)

	ih.Observe(src)
	got, _ = ih.Inhibits(target, now)
	require.True(t, got)
	ih.Replace(&model.Alert{Labels: model.LabelSet{"alertname": "Other"}, StartsAt: now})
	got, _ = ih.Inhibits(target, now)
	require.False(t, got, "an alert that is no longer held no longer inhibits")
}

func TestInhibitedByNamesEverySourceOfEveryRule(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	ih := NewInhibitor([]*configs.InhibitRule{
		{SourceMatchers: []string{`alertname="BrokerDown"`}, TargetMatchers: []string{`severity="warning"`}, Equal: []string{"service"}},
		{SourceMatchers: []string{`alertname="SiteDown"`}, TargetMatchers: []string{`severity="warning"`}},
	})
	brokerA := &model.Alert{Labels: model.LabelSet{"alertname": "BrokerDown", "service": "broker", "zone": "a"}, StartsAt: now}
	brokerB := &model.Alert{Labels: model.LabelSet{"alertname": "BrokerDown", "service": "broker", "zone": "b"}, StartsAt: now}
	site := &model.Alert{Labels: model.LabelSet{"alertname": "SiteDown"}, StartsAt: now}
	otherService := &model.Alert{Labels: model.LabelSet{"alertname": "BrokerDown", "service": "api"}, StartsAt: now}
	ih.Replace(brokerA, brokerB, site, otherService)

	want := []model.Fingerprint{brokerA.Fingerprint(), brokerB.Fingerprint(), site.Fingerprint()}
	slices.Sort(want)
	require.Equal(t, want, ih.InhibitedBy(model.LabelSet{"alertname": "ProbeSlow", "severity": "warning", "service": "broker"}, now))
	require.Empty(t, ih.InhibitedBy(model.LabelSet{"alertname": "ProbeSlow", "severity": "critical", "service": "broker"}, now))
}
