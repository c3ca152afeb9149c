package probes

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"
)

// mqttConnectTimeout bounds one connection attempt, CONNACK included; a
// broker that accepts TCP but never answers is retried after it.
const mqttConnectTimeout = 5 * time.Second

// mqttKeepAlive lets a dead broker be noticed between runs.
const mqttKeepAlive = 30 * time.Second

// mqtt5Client speaks MQTT 5 through paho.golang's autopaho, which
// reconnects on its own.
type mqtt5Client struct {
	cm     *autopaho.ConnectionManager
	cancel context.CancelFunc
}

func dialMQTT5(d mqttDial) (mqttClient, error) {
	u, err := url.Parse(d.url.String())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        d.tls,
		KeepAlive:                     uint16(mqttKeepAlive / time.Second),
		CleanStartOnInitialConnection: true,
		ReconnectBackoff:              autopaho.NewConstantBackoff(reconnectDelay),
		ConnectTimeout:                mqttConnectTimeout,
		ConnectUsername:               d.username,
		ConnectPassword:               []byte(d.password),
		OnConnectionUp:                func(*autopaho.ConnectionManager, *paho.Connack) { d.state.setUp() },
		OnConnectionDown: func() bool {
			d.state.setDown(errors.New("connection lost"))
			return true
		},
		OnConnectError: func(err error) { d.state.setErr(err) },
		ClientConfig: paho.ClientConfig{
			ClientID: d.clientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					d.deliver(pr.Packet.Topic, pr.Packet.Payload, pr.Packet.Retain)
					return true, nil
				},
			},
		},
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		cancel()
		return nil, err
	}
	return &mqtt5Client{cm: cm, cancel: cancel}, nil
}

func (c *mqtt5Client) publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	_, err := c.cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: payload})
	return err
}

func (c *mqtt5Client) subscribe(ctx context.Context, filter string, qos byte) error {
	// Retain handling 2: the broker sends no retained messages at all.
	_, err := c.cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos, RetainHandling: 2}}})
	return err
}

func (c *mqtt5Client) unsubscribe(ctx context.Context, filter string) error {
	_, err := c.cm.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{filter}})
	return err
}

func (c *mqtt5Client) close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	select {
	case <-c.cm.Done():
	default:
		_ = c.cm.Disconnect(ctx)
	}
	c.cancel()
	select {
	case <-c.cm.Done():
	case <-ctx.Done():
	}
}

// mqtt311Client speaks MQTT 3.1.1 through paho.mqtt.golang.
type mqtt311Client struct {
	c pahov3.Client
}

func dialMQTT311(d mqttDial) (mqttClient, error) {
	opts := pahov3.NewClientOptions().
		AddBroker(d.url.String()).
		SetClientID(d.clientID).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetStore(noStore{}).
		SetUsername(d.username).
		SetPassword(d.password).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(reconnectDelay).
		// Retry at a steady pace, as autopaho does for MQTT 5: a run fails
		// at once while the last attempt failed, so a growing back-off
		// would only delay noticing that the broker is back.
		SetMaxReconnectInterval(reconnectDelay).
		SetConnectTimeout(mqttConnectTimeout).
		SetKeepAlive(mqttKeepAlive).
		SetPingTimeout(5 * time.Second).
		SetWriteTimeout(5 * time.Second).
		SetOnConnectHandler(func(pahov3.Client) { d.state.setUp() }).
		SetConnectionLostHandler(func(_ pahov3.Client, err error) { d.state.setDown(err) }).
		SetConnectionNotificationHandler(func(_ pahov3.Client, n pahov3.ConnectionNotification) {
			switch n := n.(type) {
			case pahov3.ConnectionNotificationFailed:
				d.state.setErr(n.Reason)
			case pahov3.ConnectionNotificationBrokerFailed:
				d.state.setErr(n.Reason)
			}
		}).
		SetDefaultPublishHandler(func(_ pahov3.Client, m pahov3.Message) {
			d.deliver(m.Topic(), m.Payload(), m.Retained())
		})
	if d.tls != nil {
		opts.SetTLSConfig(d.tls)
	}
	c := pahov3.NewClient(opts)
	c.Connect() // with ConnectRetry, it keeps trying in the background
	return &mqtt311Client{c: c}, nil
}

// wait waits for a paho.mqtt.golang token within ctx.
func wait(ctx context.Context, t pahov3.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call waits within ctx for a paho.mqtt.golang operation and its token.
// Publish, Subscribe and Unsubscribe return their token only once the
// connection's writer has taken the packet, and while a broken connection
// is not yet noticed that takes up to the client's write timeout (5 s): a
// run must end at its own timeout, not wait for that. The call itself
// finishes in the background.
func call(ctx context.Context, op func() pahov3.Token) (pahov3.Token, error) {
	tokens := make(chan pahov3.Token, 1)
	go func() { tokens <- op() }()
	select {
	case t := <-tokens:
		return t, wait(ctx, t)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *mqtt311Client) publish(ctx context.Context, topic string, qos byte, payload []byte) error {
	_, err := call(ctx, func() pahov3.Token { return c.c.Publish(topic, qos, false, payload) })
	return err
}

func (c *mqtt311Client) subscribe(ctx context.Context, filter string, qos byte) error {
	t, err := call(ctx, func() pahov3.Token { return c.c.Subscribe(filter, qos, nil) })
	if err != nil {
		return err
	}
	if st, ok := t.(*pahov3.SubscribeToken); ok {
		if code, ok := st.Result()[filter]; ok && code >= 0x80 {
			return fmt.Errorf("broker refused the subscription (code %#x)", code)
		}
	}
	return nil
}

func (c *mqtt311Client) unsubscribe(ctx context.Context, filter string) error {
	_, err := call(ctx, func() pahov3.Token { return c.c.Unsubscribe(filter) })
	return err
}

func (c *mqtt311Client) close() {
	c.c.Disconnect(100)
}
