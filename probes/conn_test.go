package probes

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/probes/probetest"
)

// hangGuard bounds how long a test waits for something that must happen
// long before it; reaching it means the code waited for a deadline.
const hangGuard = 10 * time.Second

// closedPort returns the address of a port of 127.0.0.1 that refuses
// connections.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func openPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr().String()
}

// TestConnStateAwaitWhileDown checks that a run finding the connection down
// fails as soon as the broker is known to be unreachable, instead of
// waiting for its deadline or for the client's next reconnect.
func TestConnStateAwaitWhileDown(t *testing.T) {
	t.Parallel()
	refused := errors.New("dial tcp: connect: connection refused")
	tests := []struct {
		name string
		// set prepares the state; act runs while await waits.
		set      func(t *testing.T, c *connState)
		act      func(c *connState)
		deadline time.Duration // 0: none
		wantErr  string        // "": await succeeds
	}{
		{name: "an attempt fails while waiting", act: func(c *connState) { c.setErr(refused) }, wantErr: "connection refused"},
		{name: "the broker's port refuses", set: func(t *testing.T, c *connState) { c.dial = tcpDial(closedPort(t)) }, wantErr: "connection refused"},
		{name: "the connection comes up", set: func(t *testing.T, c *connState) { c.dial = tcpDial(openPort(t)) }, act: (*connState).setUp},
		{
			name: "the port accepts but no connection comes up: wait for the deadline",
			set:  func(t *testing.T, c *connState) { c.dial = tcpDial(openPort(t)) }, deadline: 50 * time.Millisecond,
			wantErr: "no answer to connect",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newConnState()
			if tc.set != nil {
				tc.set(t, c)
			}
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			done := make(chan error, 1)
			go func() {
				_, err := c.await(ctx)
				done <- err
			}()
			// act repeats, as a client's reconnect loop does, so that it
			// also happens once await waits.
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			guard := time.After(hangGuard)
			for {
				select {
				case err := <-done:
					if tc.wantErr == "" {
						require.NoError(t, err)
						return
					}
					require.ErrorContains(t, err, tc.wantErr)
					require.Equal(t, ReasonConnect, reasonOf(err, ""))
					return
				case <-tick.C:
					if tc.act != nil {
						tc.act(c)
					}
				case <-guard:
					t.Fatal("await kept waiting")
				}
			}
		})
	}
}

// TestMQTTBrokerGoneFailsAtOnce stops the broker under a connected probe:
// the next run must report the refusal right away, not at its timeout.
func TestMQTTBrokerGoneFailsAtOnce(t *testing.T) {
	t.Parallel()
	for _, version := range []string{configs.MQTTv311, configs.MQTTv5} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			broker := probetest.StartMQTT(t)
			cfg := probeConfig("rt", hangGuard, mqttRoundTrip(broker.URL, version, 1, "canary/gone"))
			p, err := New(cfg, Options{Replica: testReplica})
			require.NoError(t, err)
			defer p.Close()
			r := p.Probe(t.Context())
			require.True(t, r.Success, r.Detail)

			broker.Close()
			state := p.(*RoundTrip).send.(*mqttSender).conn.state
			require.Eventually(t, func() bool {
				state.mu.Lock()
				defer state.mu.Unlock()
				return !state.up
			}, hangGuard, time.Millisecond, "the client did not notice the closed connection")
			r = p.Probe(t.Context())
			require.False(t, r.Success)
			require.Equal(t, ReasonConnect, r.Reason, r.Detail)
			require.Contains(t, r.Detail, "connection refused")
			require.Less(t, r.Duration, hangGuard/2, "the run waited for its timeout")
		})
	}
}

func TestNATSAddress(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"nats://127.0.0.1:4333":                  "127.0.0.1:4333",
		"nats://broker":                          "broker:4222",
		"tls://broker":                           "broker:4222",
		"ws://broker":                            "", // the default port is the web server's
		"nats://a:4222,nats://b:4222":            "", // several servers: wait for the client
		"nats://user:secret@broker.example:4222": "broker.example:4222",
	} {
		u, _, _, err := stripUserinfo(raw)
		require.NoError(t, err)
		require.Equal(t, want, natsAddress(u, raw), raw)
	}
}
