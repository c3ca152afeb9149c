package notifiers

import (
	"fmt"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
)

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

// checkRendered judges what a field that says what it must render to (a
// webhook URL) renders to with each sample, exactly as it is sent, and
// places a problem at the field.
func (ts *Templates) checkRendered(f configs.TemplateField, statuses []model.AlertStatus) *configs.Error {
	if f.Rendered == nil {
		return nil
	}
	for _, status := range statuses {
		out, err := ts.ExecuteText(f.Text, SampleTemplateData(status))
		if err == nil {
			err = f.Rendered(out)
		}
		if err != nil {
			e := f.Pos
			e.Msg = fmt.Sprintf("%s: with the sample %s alerts, %v", f.Key, status, err)
			return &e
		}
	}
	return nil
}
