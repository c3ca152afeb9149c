package notifiers

import "github.com/prometheus/common/model"

// ExecuteText renders text exactly as Alertmanager's template package
// does (routeLabels included): nothing trimmed, and no default sent in its
// place when it fails.
// A webhook payload needs this, because what each string renders to is
// read again as YAML.
func (ts *Templates) ExecuteText(text string, data *TemplateData) (string, error) {
	set, err := ts.orDefault()
	if err != nil {
		return "", err
	}
	return set.execute(text, data, false)
}

// WithAlerts is a copy of n that holds only alerts, with template data of
// its own, as a payload cut to max_alerts is rendered.
func (n *Notification) WithAlerts(alerts []*model.Alert) *Notification {
	c := *n
	c.Alerts, c.tmpl = alerts, nil
	return &c
}
