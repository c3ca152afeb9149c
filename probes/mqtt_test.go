package probes

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	pahov3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/probes/probetest"
)

func TestMQTTRoundTrip(t *testing.T) {
	t.Parallel()
	broker := probetest.StartMQTT(t)
	for _, version := range []string{configs.MQTTv311, configs.MQTTv5} {
		for qos := byte(0); qos <= 2; qos++ {
			t.Run(fmt.Sprintf("v%s qos%d", version, qos), func(t *testing.T) {
				t.Parallel()
				topic := fmt.Sprintf("canary/%s/%d", version, qos)
				cfg := probeConfig("rt", 3*time.Second, mqttRoundTrip(broker.URL, version, qos, topic))
				p, err := New(cfg, Options{Replica: testReplica})
				require.NoError(t, err)
				defer p.Close()
				for range 3 { // the connection is kept between runs
					r := p.Probe(t.Context())
					require.True(t, r.Success, "reason %s: %s", r.Reason, r.Detail)
					require.Positive(t, r.RoundTrip)
					require.Equal(t, "roundtrip", r.Kind)
				}
			})
		}
	}
}

func TestMQTTFailures(t *testing.T) {
	t.Parallel()
	const timeout = 400 * time.Millisecond
	tests := []struct {
		name   string
		url    func(t *testing.T) string
		reason Reason
	}{
		{"broker stopped", func(t *testing.T) string {
			b := probetest.StartMQTT(t)
			b.Close()
			return b.URL
		}, ReasonConnect},
		{"broker accepts TCP but never answers CONNECT", func(t *testing.T) string { return probetest.Hanging(t) }, ReasonConnect},
		{"broker acknowledges publishes but drops them", func(t *testing.T) string {
			return probetest.StartMQTT(t, new(probetest.DropPublishes)).URL
		}, ReasonLost},
	}
	for _, tc := range tests {
		for _, version := range []string{configs.MQTTv311, configs.MQTTv5} {
			t.Run(tc.name+" v"+version, func(t *testing.T) {
				t.Parallel()
				cfg := probeConfig("rt", timeout, mqttRoundTrip(tc.url(t), version, 1, "canary/ping"))
				r := runOnce(t, cfg)
				require.False(t, r.Success)
				require.Equal(t, tc.reason, r.Reason, r.Detail)
				// Fails by the timeout, not later (generous bound for slow CI).
				require.Less(t, r.Duration, timeout+2*time.Second)
				require.Equal(t, uint64(1), r.Failures[tc.reason])
			})
		}
	}
}

func TestMQTTForeignMessagesNeverCount(t *testing.T) {
	t.Parallel()
	broker := probetest.StartMQTT(t)
	// Nothing we send reaches the expect topic; only others' messages do,
	// including a retained one and another replica's nonces.
	require.NoError(t, broker.Server.Publish("canary/back", []byte(`{"tocsin_nonce":"tocsin.test-1.retained"}`), true, 0))
	cfg := probeConfig("rt", 300*time.Millisecond, func(p *configs.ProbeConfig) {
		p.RoundTrip = &configs.RoundTripProbe{
			Send:   configs.RoundTripSend{MQTT: &configs.MQTTTransport{URL: broker.URL, Topic: "elsewhere/out", ProtocolVersion: configs.MQTTv311}},
			Expect: configs.RoundTripExpect{MQTT: &configs.MQTTTransport{URL: broker.URL, Topic: "canary/#", ProtocolVersion: configs.MQTTv311}},
		}
	})
	p, err := New(cfg, Options{Replica: testReplica})
	require.NoError(t, err)
	defer p.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = broker.Server.Publish("canary/back", []byte(newNonce("other-replica")), false, 0)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	r := p.Probe(t.Context())
	require.Equal(t, ReasonLost, r.Reason, r.Detail)
}

func TestTopicMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"#", "a/b", true},
		{"+/b", "a/b", true},
		{"a", "a/b", false},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, topicMatches(tc.filter, tc.topic), "%s vs %s", tc.filter, tc.topic)
	}
}

func TestMatcher(t *testing.T) {
	t.Parallel()
	late := 0
	now := time.Unix(1000, 0)
	m := &matcher{now: func() time.Time { return now }, onLate: func() { late++ }}

	hit := m.arm("tocsin.r1.aaaa")
	m.deliver([]byte("tocsin.r2.aaaa"))            // another replica
	m.deliver([]byte("unrelated"))                 // foreign
	m.deliver([]byte(`{"data":"tocsin.r1.aaaa"}`)) // ours, wrapped by a relay
	require.Len(t, hit, 1)
	m.deliver([]byte("tocsin.r1.aaaa")) // duplicate
	require.Len(t, hit, 1)

	m.arm("tocsin.r1.bbbb")
	m.expire()                          // the run ended as lost
	m.deliver([]byte("tocsin.r1.bbbb")) // then it came
	require.Equal(t, 1, late)
	m.deliver([]byte("tocsin.r1.bbbb")) // a duplicate of a late one is not late again
	require.Equal(t, 1, late)
}

func TestRetainedMessagesAreDropped(t *testing.T) {
	t.Parallel()
	c := &mqttConn{exact: map[string]*mqttSub{}, wild: map[string]*mqttSub{}}
	m := &matcher{now: time.Now, onLate: func() {}}
	c.subscribe(m, "a/b", 0)
	hit := m.arm("nonce-1")
	c.deliver("a/b", []byte("nonce-1"), true)
	require.Empty(t, hit)
	c.deliver("a/b", []byte("nonce-1"), false)
	require.Len(t, hit, 1)
}

func TestMQTTInteropMosquitto(t *testing.T) {
	t.Parallel()
	url := probetest.StartMosquitto(t)
	for _, version := range []string{configs.MQTTv311, configs.MQTTv5} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			cfg := probeConfig("rt", 3*time.Second, mqttRoundTrip(url, version, 1, "canary/mosquitto/"+version))
			r := runOnce(t, cfg)
			require.True(t, r.Success, "reason %s: %s", r.Reason, r.Detail)
		})
	}
}

// stuckPaho is a paho.mqtt.golang client whose Publish, Subscribe and
// Unsubscribe block until released, as paho's do for up to their write
// timeout while a dropped connection is not yet noticed.
type stuckPaho struct {
	pahov3.Client
	release chan struct{}
}

func (c stuckPaho) Publish(string, byte, bool, any) pahov3.Token { <-c.release; return nil }
func (c stuckPaho) Subscribe(string, byte, pahov3.MessageHandler) pahov3.Token {
	<-c.release
	return nil
}
func (c stuckPaho) Unsubscribe(...string) pahov3.Token { <-c.release; return nil }

func TestMQTT311CallsEndAtTheRunsTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		c := &mqtt311Client{c: stuckPaho{release: release}}
		for name, op := range map[string]func(context.Context) error{
			"publish":     func(ctx context.Context) error { return c.publish(ctx, "canary", 1, nil) },
			"subscribe":   func(ctx context.Context) error { return c.subscribe(ctx, "canary/#", 1) },
			"unsubscribe": func(ctx context.Context) error { return c.unsubscribe(ctx, "canary/#") },
		} {
			ctx, cancel := context.WithTimeout(t.Context(), 900*time.Millisecond)
			start := time.Now()
			err := op(ctx)
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded, name)
			require.Equal(t, 900*time.Millisecond, time.Since(start), name)
		}
	})
}
