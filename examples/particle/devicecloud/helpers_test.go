package devicecloud_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqttv3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/examples/particle/devicecloud"
)

// Bounded waits: long enough for a loaded CI machine to deliver, short enough
// that asserting silence keeps the tests quick.
const (
	deliverWithin = 5 * time.Second
	silentFor     = 300 * time.Millisecond
)

// httpClient keeps no idle connections, so none outlives a test.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func startCloud(t *testing.T, cfg devicecloud.Config) *devicecloud.DeviceCloud {
	t.Helper()
	dc, err := devicecloud.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, dc.Close()) })
	return dc
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(deliverWithin):
		require.FailNow(t, what+": nothing received within "+deliverWithin.String())
	}
	panic("unreachable")
}

func requireSilent[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		require.FailNowf(t, what+" should receive nothing", "got %v", v)
	case <-time.After(silentFor):
	}
}

// mqttClient is an MQTT client of either protocol version that subscribes to
// the device event topics and can publish with QoS 1.
type mqttClient interface {
	// publish returns once the broker acked the QoS 1 publish.
	publish(t *testing.T, topic, payload string)
	// messages delivers the payloads of received publishes.
	messages() <-chan string
}

type v5Client struct {
	c    *paho.Client
	msgs chan string
}

func connectV5(ctx context.Context, addr, id string) (*paho.Client, chan string, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	msgs := make(chan string, 16)
	c := paho.NewClient(paho.ClientConfig{
		Conn:          conn,
		OnClientError: func(error) {},
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case msgs <- string(pr.Packet.Payload):
			default:
			}
			return true, nil
		}},
	})
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true}); err != nil {
		return nil, nil, err
	}
	return c, msgs, nil
}

func newV5Client(t *testing.T, dc *devicecloud.DeviceCloud, id string) *v5Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deliverWithin)
	defer cancel()
	c, msgs, err := connectV5(ctx, dc.MQTTAddr(), id)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	_, err = c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: devicecloud.EventTopicFilter, QoS: 1}}})
	require.NoError(t, err)
	return &v5Client{c: c, msgs: msgs}
}

func (v *v5Client) publish(t *testing.T, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deliverWithin)
	defer cancel()
	resp, err := v.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)})
	require.NoError(t, err, "QoS 1 publish must be acked")
	require.Zero(t, resp.ReasonCode, "PUBACK reason code")
}

func (v *v5Client) messages() <-chan string { return v.msgs }

type v311Client struct {
	c    mqttv3.Client
	msgs chan string
}

func newV311Client(t *testing.T, dc *devicecloud.DeviceCloud, id string) *v311Client {
	t.Helper()
	msgs := make(chan string, 16)
	opts := mqttv3.NewClientOptions().AddBroker(dc.MQTTURL()).SetClientID(id).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false)
	c := mqttv3.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(deliverWithin), "connect")
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	tok = c.Subscribe(devicecloud.EventTopicFilter, 1, func(_ mqttv3.Client, m mqttv3.Message) {
		select {
		case msgs <- string(m.Payload()):
		default:
		}
	})
	require.True(t, tok.WaitTimeout(deliverWithin), "subscribe")
	require.NoError(t, tok.Error())
	return &v311Client{c: c, msgs: msgs}
}

func (v *v311Client) publish(t *testing.T, topic, payload string) {
	t.Helper()
	tok := v.c.Publish(topic, 1, false, payload)
	require.True(t, tok.WaitTimeout(deliverWithin), "QoS 1 publish must be acked")
	require.NoError(t, tok.Error())
}

func (v *v311Client) messages() <-chan string { return v.msgs }

// webhookSink is a webhook target that hands every event it is POSTed on.
func webhookSink(t *testing.T) (string, <-chan devicecloud.Event) {
	t.Helper()
	events := make(chan devicecloud.Event, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev devicecloud.Event
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&ev) != nil {
			http.Error(w, "want a JSON event", http.StatusBadRequest)
			return
		}
		select {
		case events <- ev:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook", events
}

// sseEvent is one frame of the event stream.
type sseEvent struct {
	name string
	ev   devicecloud.Event
}

// subscribeSSE opens the event stream and returns once it is subscribed.
// The returned channel is closed when the stream ends.
func subscribeSSE(t *testing.T, dc *devicecloud.DeviceCloud) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, dc.EventsURL(), nil)
	require.NoError(t, err)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))

	sc := bufio.NewScanner(resp.Body)
	require.True(t, sc.Scan())
	require.Equal(t, ":ok", sc.Text(), "stream opens with a comment")

	out := make(chan sseEvent, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(out)
		var cur sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				cur.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.ev)
			case line == "" && cur.name != "":
				select {
				case out <- cur:
				case <-ctx.Done():
					return
				}
				cur = sseEvent{}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = resp.Body.Close()
		wg.Wait()
	})
	return out
}

func requireStatus(t *testing.T, url string, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deliverWithin)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, want, resp.StatusCode, url)
}
