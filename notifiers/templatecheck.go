package notifiers

import (
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/configs"
)

// TemplatesFromConfig parses the config's templates: files with the
// default templates.
func TemplatesFromConfig(cfg *configs.Config, log *slog.Logger) (*Templates, error) {
	paths, err := cfg.TemplatePaths()
	if err != nil {
		return nil, err
	}
	return NewTemplates(paths, log)
}

// templateErrorAt finds the place inside the template text that Go's
// templates give ("line 1:12: ...", as Template.render words it).
var templateErrorAt = regexp.MustCompile(`^line (\d+):(\d+):`)

// templateTypeNames words the types a template error names as a user knows
// them: tocsin's template data is Alertmanager's, with a few additions.
var templateTypeNames = strings.NewReplacer(
	"type *notifiers.TemplateData", "the notification's data (Alertmanager's *template.Data)",
	"type notifiers.TemplateAlerts", ".Alerts (Alertmanager's template.Alerts)",
)

// CheckTemplates renders every message template of every integration of
// cfg against a sample firing notification, and a resolved one for the
// integrations with send_resolved, and every route label against both, and
// reports each template that fails at its place in the file. The
// integrations render the firing sample when they are built, and the
// route tree both; a template that passed this check and still fails on
// real alerts sends its default text instead, and a route label that
// fails is left out of the notification.
func CheckTemplates(cfg *configs.Config) configs.Errors {
	ts, err := TemplatesFromConfig(cfg, nil)
	if err != nil {
		return configs.Errors{{File: cfg.File, Msg: fmt.Sprintf("templates: %v", err)}}
	}
	var errs configs.Errors
	for _, f := range cfg.TemplateFields() {
		statuses := []model.AlertStatus{model.AlertFiring}
		if f.SendResolved || f.RouteLabels != nil {
			statuses = append(statuses, model.AlertResolved)
		}
		if err := ts.checkField(f, statuses); err != nil {
			e := f.Pos
			if m := templateErrorAt.FindStringSubmatch(err.Error()); m != nil {
				line, _ := strconv.Atoi(m[1])
				col, _ := strconv.Atoi(m[2])
				e = f.At(line, col)
			}
			e.Msg = fmt.Sprintf("%s: template cannot render: %s", f.Key, templateTypeNames.Replace(err.Error()))
			errs = append(errs, &e)
		} else if e := ts.checkRendered(f, statuses); e != nil {
			errs = append(errs, e)
		}
	}
	errs.Sort()
	return errs
}

// checkField renders one template of the config against the sample
// notifications of the given statuses.
func (ts *Templates) checkField(f configs.TemplateField, statuses []model.AlertStatus) error {
	if f.RouteLabels == nil {
		_, err := ts.check(f.Text, "", f.HTML, statuses...)
		return err
	}
	for _, status := range statuses {
		render, err := ts.routeLabelRenderer(f.RouteLabels, sampleNotification(status))
		if err != nil {
			return err
		}
		if _, err := render(f.Label); err != nil {
			return err
		}
	}
	return nil
}
