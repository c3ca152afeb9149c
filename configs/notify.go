package configs

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/matcher/parse"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Route is a node of the notification route tree, as in Alertmanager. A
// child route inherits every unset value (receiver, group_by and the three
// timers) from its parent, and its parent's labels.
type Route struct {
	Receiver string `yaml:"receiver,omitempty"`
	// GroupBy lists the labels that split alerts into groups; the single
	// name "..." groups by every label. Unset inherits the parent's.
	GroupBy        []model.LabelName `yaml:"group_by,omitempty"`
	GroupWait      *model.Duration   `yaml:"group_wait,omitempty"`
	GroupInterval  *model.Duration   `yaml:"group_interval,omitempty"`
	RepeatInterval *model.Duration   `yaml:"repeat_interval,omitempty"`
	// Matchers select the alerts of this route, in Alertmanager's syntax
	// (`severity="critical"`, `service=~"broker|api"`); all must match.
	Matchers []string `yaml:"matchers,omitempty"`
	// Match and MatchRE are Alertmanager's deprecated forms of matchers:
	// label = value, and label matching an anchored regular expression.
	Match   map[string]string `yaml:"match,omitempty"`
	MatchRE map[string]string `yaml:"match_re,omitempty"`
	// MuteTimeIntervals name time intervals during which this route sends
	// nothing; ActiveTimeIntervals, those outside which it sends nothing.
	// Neither is inherited by child routes, as in Alertmanager.
	MuteTimeIntervals   []string `yaml:"mute_time_intervals,omitempty"`
	ActiveTimeIntervals []string `yaml:"active_time_intervals,omitempty"`
	// Continue lets an alert that matched this route go on to match the
	// following siblings too.
	Continue bool     `yaml:"continue,omitempty"`
	Routes   []*Route `yaml:"routes,omitempty"`
	// Labels are attached to the route's groups, as in Alertmanager: a
	// child route inherits them and may override each. A value is a
	// template, rendered at each notification against the group's alerts
	// (.RouteLabels in message templates, and the routeLabels function).
	Labels model.LabelSet `yaml:"labels,omitempty"`
}

// GroupByAll is the group_by name that groups by every label.
const GroupByAll = "..."

// ReceiverConfig is a named set of integrations that receive notifications.
type ReceiverConfig struct {
	Name string `yaml:"name"`
	// Strategy is "all" (every integration at once) or "failover" (in order,
	// moving on when one fails or has not accepted within FailoverAfter).
	Strategy      string         `yaml:"strategy,omitempty"`
	FailoverAfter model.Duration `yaml:"failover_after,omitempty"`

	PagerDutyConfigs []*PagerDutyConfig `yaml:"pagerduty_configs,omitempty"`
	SlackConfigs     []*SlackConfig     `yaml:"slack_configs,omitempty"`
	OpsgenieConfigs  []*OpsgenieConfig  `yaml:"opsgenie_configs,omitempty"`
	WebhookConfigs   []*WebhookConfig   `yaml:"webhook_configs,omitempty"`
	EmailConfigs     []*EmailConfig     `yaml:"email_configs,omitempty"`
	MSTeamsConfigs   []*MSTeamsConfig   `yaml:"msteams_configs,omitempty"`
	// MSTeamsV2Configs is Alertmanager's name for what tocsin calls
	// msteams_configs (a Workflows webhook); they join MSTeamsConfigs when
	// the config is loaded.
	MSTeamsV2Configs []*MSTeamsConfig `yaml:"msteamsv2_configs,omitempty"`
	TwilioConfigs    []*TwilioConfig  `yaml:"twilio_configs,omitempty"`
	DeadmanConfigs   []*DeadmanConfig `yaml:"deadman_configs,omitempty"`
}

// Receiver strategies.
const (
	StrategyAll      = "all"
	StrategyFailover = "failover"
)

// Route defaults, as in Alertmanager.
const (
	DefaultGroupWait      = model.Duration(30 * time.Second)
	DefaultGroupInterval  = model.Duration(5 * time.Minute)
	DefaultRepeatInterval = model.Duration(4 * time.Hour)
	DefaultFailoverAfter  = model.Duration(10 * time.Second)
)

func applyNotifyDefaults(route *Route, receivers []*ReceiverConfig) {
	if route != nil {
		for _, d := range []struct {
			field **model.Duration
			value model.Duration
		}{{&route.GroupWait, DefaultGroupWait}, {&route.GroupInterval, DefaultGroupInterval}, {&route.RepeatInterval, DefaultRepeatInterval}} {
			if *d.field == nil {
				v := d.value
				*d.field = &v
			}
		}
	}
	for _, r := range receivers {
		if r == nil {
			continue
		}
		if r.Strategy == "" {
			r.Strategy = StrategyAll
		}
		if r.FailoverAfter == 0 {
			r.FailoverAfter = DefaultFailoverAfter
		}
	}
}

func (c *Config) validateNotify(v *validator) {
	route, receivers := c.Route, c.Receivers
	intervals := c.validateTimeIntervals(v)
	for _, r := range c.InhibitRules {
		if r != nil {
			r.validate(v)
		}
	}
	c.validateTemplateFiles(v)
	c.validateIntegrationGlobals(v)
	names := make([]*string, 0, len(receivers))
	known := map[string]bool{}
	for _, r := range receivers {
		if r == nil {
			continue
		}
		names = append(names, &r.Name)
		known[r.Name] = true
		r.validate(v)
	}
	v.unique("receiver", names)
	if route == nil {
		if len(receivers) > 0 {
			v.errorfAt([]any{receivers[0]}, "receivers are set but there is no route; add route.receiver")
		}
		return
	}
	if route.Receiver == "" {
		v.errorf(route, "the top-level route needs a receiver")
	}
	if len(route.Matchers) > 0 {
		v.errorf(&route.Matchers, "the top-level route matches every alert; it cannot have matchers")
	}
	if route.Continue {
		v.errorf(&route.Continue, "the top-level route cannot have continue; it has no siblings")
	}
	if len(route.Match) > 0 || len(route.MatchRE) > 0 {
		v.errorfAt([]any{&route.Match, &route.MatchRE}, "the top-level route matches every alert; it cannot have match or match_re")
	}
	if len(route.MuteTimeIntervals) > 0 || len(route.ActiveTimeIntervals) > 0 {
		v.errorfAt([]any{&route.MuteTimeIntervals, &route.ActiveTimeIntervals}, "the top-level route cannot have mute_time_intervals or active_time_intervals")
	}
	route.validate(v, known, intervals, nil)
}

// validate checks the route and its children; labels are those the route
// inherits from its parents.
func (r *Route) validate(v *validator, known, intervals map[string]bool, labels model.LabelSet) {
	if r.Receiver != "" && !known[r.Receiver] {
		v.errorf(&r.Receiver, "route uses receiver %q, which is not defined in receivers", r.Receiver)
	}
	for i := range r.Matchers {
		validateMatcher(v, &r.Matchers[i])
	}
	validateMatchMaps(v, &r.Match, &r.MatchRE, "match")
	for _, names := range []*[]string{&r.MuteTimeIntervals, &r.ActiveTimeIntervals} {
		for i := range *names {
			if name := &(*names)[i]; !intervals[*name] {
				v.errorf(name, "route uses time interval %q, which is not defined in time_intervals", *name)
			}
		}
	}
	r.validateGroupBy(v)
	labels = r.MergedLabels(labels)
	r.validateLabels(v, labels)
	for _, t := range []struct {
		d    *model.Duration
		key  string
		zero bool
	}{{r.GroupWait, "group_wait", true}, {r.GroupInterval, "group_interval", false}, {r.RepeatInterval, "repeat_interval", false}} {
		switch {
		case t.d == nil:
		case *t.d < 0:
			v.errorf(t.d, "%s must not be negative", t.key)
		case *t.d == 0 && !t.zero:
			v.errorf(t.d, "%s must be positive", t.key)
		}
	}
	for _, child := range r.Routes {
		if child != nil {
			child.validate(v, known, intervals, labels)
		}
	}
}

func (r *Route) validateGroupBy(v *validator) {
	seen := map[model.LabelName]bool{}
	for i := range r.GroupBy {
		name := &r.GroupBy[i]
		switch {
		case *name == GroupByAll && len(r.GroupBy) > 1:
			v.errorf(name, `group_by "..." groups by every label; it cannot be combined with other names`)
		case *name == GroupByAll:
		case !model.UTF8Validation.IsValidLabelName(string(*name)):
			v.errorf(name, "group_by: %q is not a valid label name", string(*name))
		case seen[*name]:
			v.errorf(name, "group_by: label %q is listed more than once", string(*name))
		}
		seen[*name] = true
	}
}

// MergedLabels returns the route's labels over those it inherits, as
// Alertmanager merges them; inherited itself is never changed.
func (r *Route) MergedLabels(inherited model.LabelSet) model.LabelSet {
	if len(r.Labels) == 0 {
		return inherited
	}
	return inherited.Merge(r.Labels)
}

// validateLabels checks each route label's value as a template, and files
// it for the render check with all the labels of the route (merged), which
// it may refer to. The names were checked as they were decoded
// (Alertmanager's rule: any non-empty UTF-8 name).
func (r *Route) validateLabels(v *validator, merged model.LabelSet) {
	n := v.pos.of(&r.Labels)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, value := n.Content[i].Value, n.Content[i+1]
		if err := parseTemplate(value.Value); err != nil {
			v.at(value, "labels.%s: bad template: %v", name, err)
			continue
		}
		v.addRouteLabel(value, model.LabelName(name), merged)
	}
}

// validateMatcher parses one matchers entry as Alertmanager does and, on
// error, points at the offending character inside the string.
func validateMatcher(v *validator, s *string) {
	if strings.TrimSpace(*s) == "" {
		v.errorf(s, "matcher is empty; write it as name=\"value\", name!=\"value\", name=~\"regex\" or name!~\"regex\"")
		return
	}
	if _, err := parse.Matchers(*s); err != nil {
		msg, offset := matcherError(err)
		n := v.pos.of(s)
		if n == nil {
			v.at(nil, "bad matcher %q: %s", *s, msg)
			return
		}
		at := *n
		at.Column += offset
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
			at.Column++
		}
		v.at(&at, "bad matcher %q: %s; write it as name=\"value\", name!=\"value\", name=~\"regex\" or name!~\"regex\"", *s, msg)
	}
}

// matcherError splits the "start:end: message" form of the matcher parser's
// errors into the message and the column (in characters) it refers to.
func matcherError(err error) (string, int) {
	msg := err.Error()
	startText, rest, ok := strings.Cut(msg, ":")
	if !ok {
		return msg, 0
	}
	endText, rest2, ok := strings.Cut(rest, ":")
	start, err1 := strconv.Atoi(startText)
	end, err2 := strconv.Atoi(endText)
	if err1 != nil || err2 != nil || !ok {
		return msg, 0
	}
	msg = strings.TrimSpace(rest2)
	if strings.HasPrefix(msg, "end of input") {
		// Something is missing at the end: point just past the input.
		return msg, end
	}
	return msg, start
}

func (r *ReceiverConfig) validate(v *validator) {
	if r.Name == "" {
		v.errorf(r, "receiver needs a name")
	}
	if r.Strategy != StrategyAll && r.Strategy != StrategyFailover {
		v.errorf(&r.Strategy, "strategy must be %q or %q, not %q", StrategyAll, StrategyFailover, r.Strategy)
	}
	if r.FailoverAfter <= 0 {
		v.errorf(&r.FailoverAfter, "failover_after must be positive")
	}
	r.validateIntegrations(v)
}
