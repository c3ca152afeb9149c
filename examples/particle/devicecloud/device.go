package devicecloud

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Device is a simulated device that keeps the demo alive: it connects to the
// broker over MQTT 5 and publishes a small JSON reading on
// devices/<ID>/events/<Event> every Interval, reconnecting after failures the
// way real devices do. A device does not notice BreakRelay; that is the point.
type Device struct {
	// ID is the device id (coreid); it is also the MQTT client id.
	ID string
	// Event is the event name; empty means "status".
	Event string
	// Interval is the time between publishes and the connect/publish
	// deadline; zero means one second.
	Interval time.Duration
	// Logger receives connection trouble; nil discards it.
	Logger *slog.Logger
}

// Run publishes to the broker at mqttURL (tcp://host:port) until ctx is
// cancelled, then disconnects and returns nil. It returns an error only for a
// URL it cannot use.
func (d Device) Run(ctx context.Context, mqttURL string) error {
	u, err := url.Parse(mqttURL)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return fmt.Errorf("device %q: broker url must look like tcp://host:port", d.ID)
	}
	if d.Event == "" {
		d.Event = "status"
	}
	if d.Interval <= 0 {
		d.Interval = time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	seq := 0
	for {
		err := d.session(ctx, u.Host, &seq)
		if ctx.Err() != nil {
			return nil
		}
		d.Logger.Warn("device offline, retrying", "device", d.ID, "err", err)
		t := time.NewTimer(d.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// session holds one MQTT connection and publishes on it until it fails or
// ctx ends.
func (d Device) session(ctx context.Context, addr string, seq *int) error {
	dialer := net.Dialer{Timeout: d.Interval}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnClientError: func(error) {}})
	cctx, cancel := context.WithTimeout(ctx, d.Interval)
	_, err = c.Connect(cctx, &paho.Connect{ClientID: d.ID, KeepAlive: 30, CleanStart: true})
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err) // Connect closed the connection
	}
	defer func() {
		// A hung broker must not hold the goodbye.
		_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
		_ = c.Disconnect(&paho.Disconnect{})
	}()

	topic := "devices/" + d.ID + "/events/" + d.Event
	tick := time.NewTicker(d.Interval)
	defer tick.Stop()
	for {
		*seq++
		payload := fmt.Sprintf(`{"seq":%d,"temp_c":%.1f}`, *seq, 20+float64(*seq%10)/4)
		pctx, cancel := context.WithTimeout(ctx, d.Interval)
		_, err := c.Publish(pctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)})
		cancel()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("publish: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return fmt.Errorf("connection lost")
		case <-tick.C:
		}
	}
}
