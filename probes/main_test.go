package probes

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/configs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle client connections' readers for a moment.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		// paho.mqtt.golang lets a connect attempt that was under way when
		// the client was closed run to its end (at most its connect timeout).
		goleak.IgnoreAnyFunction("github.com/eclipse/paho%2emqtt%2egolang.(*client).Connect.func1"),
		goleak.IgnoreAnyFunction("github.com/eclipse/paho%2emqtt%2egolang.(*client).Disconnect.func1"),
		// Likewise a reconnect loop finishes the pause between two attempts
		// (at most reconnectDelay) before it sees the client was closed.
		goleak.IgnoreAnyFunction("github.com/eclipse/paho%2emqtt%2egolang.(*client).reconnect"),
	)
}

const testReplica = "test-1"

// probeConfig is a probe config as loading would leave it: defaults applied.
func probeConfig(name string, timeout time.Duration, set func(*configs.ProbeConfig)) *configs.ProbeConfig {
	p := &configs.ProbeConfig{Name: name, Interval: model.Duration(10 * timeout), Timeout: model.Duration(timeout),
		Labels: model.LabelSet{"service": "broker"}}
	set(p)
	return p
}

func mqttRoundTrip(url, version string, qos byte, topic string) func(*configs.ProbeConfig) {
	return func(p *configs.ProbeConfig) {
		p.RoundTrip = &configs.RoundTripProbe{
			Send:   configs.RoundTripSend{MQTT: &configs.MQTTTransport{URL: url, Topic: topic, QoS: qos, ProtocolVersion: version}},
			Expect: configs.RoundTripExpect{MQTT: &configs.MQTTTransport{URL: url, Topic: topic, QoS: qos, ProtocolVersion: version}},
		}
	}
}

// runOnce builds a prober, runs it once and closes it.
func runOnce(t *testing.T, cfg *configs.ProbeConfig) Result {
	t.Helper()
	p, err := New(cfg, Options{Replica: testReplica})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	defer p.Close()
	return p.Probe(t.Context())
}
