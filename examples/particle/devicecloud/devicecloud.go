// Package devicecloud is an in-process device cloud that can be broken on
// purpose: an MQTT broker for devices, a relay (the "device broker") that
// forwards device events to webhooks and to a Server-Sent Events stream, and
// an HTTP front door. Switches reproduce the ways such a cloud fails, above
// all the one where every port still answers but no message passes.
package devicecloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Config configures a DeviceCloud. The zero value is usable.
type Config struct {
	// Logger receives the broker's and the relay's logs; nil discards them.
	Logger *slog.Logger
	// Webhooks are the URLs every device event is POSTed to. More can be
	// added after start with AddWebhook.
	Webhooks []string
	// Now stamps relayed events; nil means time.Now.
	Now func() time.Time
}

// DeviceCloud is a running device cloud: MQTT broker, relay and HTTP server,
// all on 127.0.0.1. Its switches are safe to flip from any goroutine.
type DeviceCloud struct {
	log    *slog.Logger
	broker *mqtt.Server
	ln     *switchListener
	relay  *relay

	relayBroken atomic.Bool

	httpSrv  *http.Server
	httpURL  string
	httpDone chan struct{}

	closeOnce sync.Once
}

// Start starts the broker, the relay and the HTTP server on ephemeral ports
// of 127.0.0.1.
func Start(cfg Config) (*DeviceCloud, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	dc := &DeviceCloud{log: log, relay: newRelay(log, now), httpDone: make(chan struct{})}
	for _, w := range cfg.Webhooks {
		dc.relay.addWebhook(w)
	}
	if err := dc.startBroker(); err != nil {
		dc.relay.close()
		return nil, err
	}
	if err := dc.startHTTP(); err != nil {
		_ = dc.broker.Close()
		_ = dc.ln.Close()
		dc.relay.close()
		return nil, err
	}
	return dc, nil
}

func (dc *DeviceCloud) startBroker() error {
	ln, err := listenSwitch("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("device cloud: listen mqtt: %w", err)
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: dc.log})
	err = errors.Join(
		srv.AddHook(new(auth.AllowHook), nil),
		srv.AddHook(&dropHook{broken: &dc.relayBroken}, nil),
		srv.AddListener(listeners.NewNet("devices", ln)),
		srv.Subscribe(EventTopicFilter, 1, dc.relay.onPublish),
	)
	if err == nil {
		err = srv.Serve()
	}
	if err != nil {
		_ = srv.Close()
		_ = ln.Close()
		return fmt.Errorf("device cloud: start mqtt broker: %w", err)
	}
	dc.broker, dc.ln = srv, ln
	return nil
}

func (dc *DeviceCloud) startHTTP() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("device cloud: listen http: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /v1/devices", dc.serveDevices)
	mux.HandleFunc("GET /v1/events", dc.relay.serveEvents)
	dc.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	dc.httpURL = "http://" + ln.Addr().String()
	go func() {
		defer close(dc.httpDone)
		_ = dc.httpSrv.Serve(ln)
	}()
	return nil
}

// serveDevices lists the connected MQTT clients. It answers from the broker's
// session table, so it stays green while the relay is broken, as the
// incident's API did.
func (dc *DeviceCloud) serveDevices(w http.ResponseWriter, _ *http.Request) {
	type device struct {
		ID        string `json:"id"`
		Connected bool   `json:"connected"`
	}
	out := []device{}
	for _, cl := range dc.broker.Clients.GetAll() {
		if cl.Net.Inline {
			continue
		}
		out = append(out, device{ID: cl.ID, Connected: !cl.Closed()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// MQTTURL is the broker's address for MQTT clients, e.g. tcp://127.0.0.1:41883.
// It stays the same across StopBroker and StartBroker.
func (dc *DeviceCloud) MQTTURL() string { return "tcp://" + dc.ln.Addr().String() }

// MQTTAddr is the broker's host:port, for TCP checks.
func (dc *DeviceCloud) MQTTAddr() string { return dc.ln.Addr().String() }

// HTTPURL is the base URL of the HTTP server that holds the front door
// (/healthz, /v1/devices) and the event stream, e.g. http://127.0.0.1:40080.
func (dc *DeviceCloud) HTTPURL() string { return dc.httpURL }

// EventsURL is the Server-Sent Events stream of relayed device events.
func (dc *DeviceCloud) EventsURL() string { return dc.httpURL + "/v1/events" }

// AddWebhook adds a webhook target after start: tocsin's own webhook
// endpoint is only known once tocsin listens. Events relayed from then on are
// POSTed to it as JSON Event envelopes. After Close it does nothing.
func (dc *DeviceCloud) AddWebhook(url string) { dc.relay.addWebhook(url) }

// BreakRelay reproduces the incident: devices and probes still connect to the
// broker and the HTTP front door still answers 200, but no message passes.
// Every publish is accepted (QoS 1 and 2 publishers get their ack) and then
// dropped: it reaches no subscriber, no webhook and no event stream. Nothing
// dropped is delivered later. Undo with HealRelay.
func (dc *DeviceCloud) BreakRelay() { dc.relayBroken.Store(true) }

// HealRelay lets messages pass again after BreakRelay.
func (dc *DeviceCloud) HealRelay() { dc.relayBroken.Store(false) }

// BreakWebhooks makes only the relay → webhook leg fail: events are dropped
// instead of POSTed, while MQTT delivery and the event stream keep working.
// Undo with HealWebhooks.
func (dc *DeviceCloud) BreakWebhooks() { dc.relay.webhooksBroken.Store(true) }

// HealWebhooks resumes webhook delivery after BreakWebhooks. Events relayed
// while broken stay lost.
func (dc *DeviceCloud) HealWebhooks() { dc.relay.webhooksBroken.Store(false) }

// StopBroker closes the broker's port and drops every MQTT connection, as if
// its process had died: new connections are refused. The HTTP server keeps
// running. Undo with StartBroker.
func (dc *DeviceCloud) StopBroker() { dc.ln.stop() }

// StartBroker listens on the broker's port again after StopBroker. It fails
// only if something else took the port in the meantime.
func (dc *DeviceCloud) StartBroker() error {
	if err := dc.ln.start(); err != nil {
		return fmt.Errorf("device cloud: restart mqtt listener on %s: %w", dc.ln.Addr(), err)
	}
	return nil
}

// HangBroker makes the broker's host go silent the way a failing machine
// does: the port still accepts TCP connections, but nothing is read from or
// written to any connection, new or existing, so a CONNECT never gets its
// CONNACK and a publish never gets its ack. Undo with UnhangBroker.
func (dc *DeviceCloud) HangBroker() { dc.ln.hang() }

// KillBrokerLeavingHang drops every MQTT connection, as if the broker's
// process had died, while its port is taken over by a listener that
// accepts TCP connections and never answers. Undo with UnhangBroker.
func (dc *DeviceCloud) KillBrokerLeavingHang() { dc.ln.replaceWithHang() }

// UnhangBroker ends HangBroker and KillBrokerLeavingHang: held connections
// carry on where they stopped.
func (dc *DeviceCloud) UnhangBroker() { dc.ln.unhang() }

// Close stops the broker, the relay and the HTTP server and waits for their
// goroutines to end. It is safe to call more than once.
func (dc *DeviceCloud) Close() error {
	dc.closeOnce.Do(func() {
		// Close the port and the connections first: mochi says goodbye to
		// each client, and on a hung connection that would wait forever.
		_ = dc.ln.Close()
		_ = dc.broker.Close()
		dc.relay.close() // ends open event streams, so Shutdown need not wait for them
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := dc.httpSrv.Shutdown(ctx); err != nil {
			_ = dc.httpSrv.Close()
		}
		<-dc.httpDone
	})
	return nil
}

// dropHook accepts every publish and, while the relay is broken, marks it to
// be ignored: mochi still acks it but forwards it to no subscriber, inline
// subscription (the relay) or retained store.
type dropHook struct {
	mqtt.HookBase
	broken *atomic.Bool
}

func (h *dropHook) ID() string { return "relay-switch" }

func (h *dropHook) Provides(b byte) bool { return b == mqtt.OnPublish }

func (h *dropHook) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if h.broken.Load() {
		// CodeSuccessIgnore, unlike ErrRejectPacket, still sends the PUBACK.
		return pk, packets.CodeSuccessIgnore
	}
	return pk, nil
}
