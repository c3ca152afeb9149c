package scenario

import "go.uber.org/goleak"

// IgnoredLeaks are the goroutines that may outlive Close for a moment
// without being leaks: library housekeeping and client back-offs that end
// on their own. Tests that run a scenario pass them to goleak.
func IgnoredLeaks() []goleak.Option {
	return []goleak.Option{
		// net/http keeps idle client connections' readers for a moment.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		// The TSDB's and OpenTelemetry's package-level helpers.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("github.com/prometheus/prometheus/tsdb/wlog.(*WL).run"),
		// paho.mqtt.golang lets a connect attempt that was under way when
		// the client was closed run to its end (at most its connect timeout).
		goleak.IgnoreAnyFunction("github.com/eclipse/paho%2emqtt%2egolang.(*client).Connect.func1"),
		goleak.IgnoreAnyFunction("github.com/eclipse/paho%2emqtt%2egolang.(*client).Disconnect.func1"),
		// Its reconnect loop notices a Disconnect only after the back-off
		// sleep it is in (at most the probes' reconnect delay).
		goleak.IgnoreAnyFunction("github.com/eclipse/paho%2emqtt%2egolang.(*client).reconnect"),
	}
}
