package configs

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// alertmanagerSections uses every Alertmanager key tocsin takes.
const alertmanagerSections = `
global:
  replica: eu-1
  slack_api_url: 'https://hooks.slack.com/services/x'
  smtp_smarthost: 'smtp:587'
  smtp_from: alerts@example.com
  smtp_require_tls: false
  http_config: {follow_redirects: false}
templates: ['templates/*.tmpl']
time_intervals:
- name: office
  time_intervals:
  - times: [{start_time: '09:00', end_time: '17:00'}]
    weekdays: ['monday:friday']
    days_of_month: ['1:15', -1, 20]
    months: [january, '3:6']
    years: ['2026:2027', 2028]
    location: Europe/Berlin
mute_time_intervals:
- name: nights
  time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]
route:
  receiver: oncall
  group_by: [alertname]
  routes:
  - match: {severity: info}
    match_re: {service: 'broker|api'}
    receiver: chat
    mute_time_intervals: [nights]
    active_time_intervals: [office]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_match_re: {severity: 'warning|info'}
  equal: [alertname]
receivers:
- name: oncall
  pagerduty_configs: [{routing_key: k, client_url: 'https://am.example/#/alerts?receiver={{ .Receiver | urlquery }}'}]
  email_configs: [{to: a@example.com}]
- name: chat
  slack_configs: [{channel: '#alerts', title: '{{ template "slack.default.title" . }}'}]
`

func TestAlertmanagerSectionsMatchTheSchema(t *testing.T) {
	s := compiledSchema(t)
	require.NoError(t, s.Validate(asJSON(t, alertmanagerSections)))
	_, err := Load("tocsin.yml", []byte(alertmanagerSections))
	require.NoError(t, err, "the schema and Load agree")

	for name, data := range map[string]string{
		"time range without end": "time_intervals:\n- name: x\n  time_intervals: [{times: [{start_time: '09:00'}]}]\n",
		"unknown interval key":   "time_intervals:\n- name: x\n  time_intervals: [{hours: [1]}]\n",
		"unknown inhibit key":    "inhibit_rules:\n- source: x\n",
	} {
		t.Run(name, func(t *testing.T) {
			require.Error(t, s.Validate(asJSON(t, data)))
		})
	}
}
