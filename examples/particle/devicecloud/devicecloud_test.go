package devicecloud_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tocsin-alerting/tocsin/examples/particle/devicecloud"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var protocols = []struct {
	name    string
	connect func(t *testing.T, dc *devicecloud.DeviceCloud, id string) mqttClient
}{
	{"mqtt-3.1.1", func(t *testing.T, dc *devicecloud.DeviceCloud, id string) mqttClient { return newV311Client(t, dc, id) }},
	{"mqtt-5", func(t *testing.T, dc *devicecloud.DeviceCloud, id string) mqttClient { return newV5Client(t, dc, id) }},
}

func TestHealthyDelivery(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			hook, hooked := webhookSink(t)
			published := time.Date(2018, 3, 20, 16, 8, 0, 0, time.UTC)
			dc := startCloud(t, devicecloud.Config{Webhooks: []string{hook}, Now: func() time.Time { return published }})
			stream := subscribeSSE(t, dc)
			sub := p.connect(t, dc, "subscriber")
			pub := p.connect(t, dc, "publisher")

			pub.publish(t, "devices/dev-1/events/canary/ping", `{"nonce":"n1"}`)

			require.Equal(t, `{"nonce":"n1"}`, receive(t, sub.messages(), "MQTT subscriber"))
			want := devicecloud.Event{Name: "canary/ping", Data: `{"nonce":"n1"}`, CoreID: "dev-1", PublishedAt: published, TTL: 60}
			require.Equal(t, want, receive(t, hooked, "webhook"))
			got := receive(t, stream, "event stream")
			require.Equal(t, "canary/ping", got.name)
			require.Equal(t, want, got.ev)
		})
	}
}

func TestBreakRelayDropsEverythingButAcks(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			hook, hooked := webhookSink(t)
			dc := startCloud(t, devicecloud.Config{Webhooks: []string{hook}})
			stream := subscribeSSE(t, dc)
			sub := p.connect(t, dc, "subscriber")
			pub := p.connect(t, dc, "publisher")

			dc.BreakRelay()
			pub.publish(t, "devices/dev-1/events/ping", "lost") // acked all the same
			// Clients can still connect and the front door is green.
			p.connect(t, dc, "late-device")
			requireStatus(t, dc.HTTPURL()+"/healthz", http.StatusOK)
			requireStatus(t, dc.HTTPURL()+"/v1/devices", http.StatusOK)
			requireSilent(t, sub.messages(), "MQTT subscriber")
			requireSilent(t, hooked, "webhook")
			requireSilent(t, stream, "event stream")

			dc.HealRelay()
			pub.publish(t, "devices/dev-1/events/ping", "after")
			// The first thing through is the new message: nothing dropped
			// while broken turns up late.
			require.Equal(t, "after", receive(t, sub.messages(), "MQTT subscriber"))
			require.Equal(t, "after", receive(t, hooked, "webhook").Data)
			require.Equal(t, "after", receive(t, stream, "event stream").ev.Data)
		})
	}
}

func TestBreakWebhooksKeepsMQTT(t *testing.T) {
	t.Parallel()
	hook, hooked := webhookSink(t)
	dc := startCloud(t, devicecloud.Config{})
	dc.AddWebhook(hook)
	stream := subscribeSSE(t, dc)
	sub := newV5Client(t, dc, "subscriber")

	dc.BreakWebhooks()
	sub.publish(t, "devices/dev-1/events/ping", "mqtt-only")
	require.Equal(t, "mqtt-only", receive(t, sub.messages(), "MQTT subscriber"))
	require.Equal(t, "mqtt-only", receive(t, stream, "event stream").ev.Data)
	requireSilent(t, hooked, "webhook")

	dc.HealWebhooks()
	sub.publish(t, "devices/dev-1/events/ping", "again")
	require.Equal(t, "again", receive(t, hooked, "webhook").Data)
}

func TestStopAndStartBroker(t *testing.T) {
	t.Parallel()
	dc := startCloud(t, devicecloud.Config{})
	before := newV5Client(t, dc, "before")
	url := dc.MQTTURL()

	dc.StopBroker()
	_, err := net.Dial("tcp", dc.MQTTAddr())
	require.True(t, errors.Is(err, syscall.ECONNREFUSED), "want connection refused, got %v", err)
	select {
	case <-before.c.Done():
	case <-time.After(deliverWithin):
		require.FailNow(t, "existing connection should be dropped")
	}
	requireStatus(t, dc.HTTPURL()+"/healthz", http.StatusOK)

	require.NoError(t, dc.StartBroker())
	require.Equal(t, url, dc.MQTTURL(), "same port after restart")
	after := newV5Client(t, dc, "after")
	after.publish(t, "devices/dev-1/events/ping", "back")
	require.Equal(t, "back", receive(t, after.messages(), "MQTT subscriber"))
}

func TestHangBroker(t *testing.T) {
	t.Parallel()
	dc := startCloud(t, devicecloud.Config{})
	before := newV5Client(t, dc, "before")

	dc.HangBroker()
	conn, err := net.Dial("tcp", dc.MQTTAddr())
	require.NoError(t, err, "a hung broker still accepts TCP")
	require.NoError(t, conn.Close())

	ctx, cancel := context.WithTimeout(context.Background(), silentFor)
	defer cancel()
	_, _, err = connectV5(ctx, dc.MQTTAddr(), "during-hang")
	require.ErrorIs(t, err, context.DeadlineExceeded, "CONNECT must get no CONNACK")
	_, err = before.c.Publish(ctx, &paho.Publish{Topic: "devices/dev-1/events/ping", QoS: 1, Payload: []byte("held")})
	require.Error(t, err, "existing connections get no PUBACK either")

	dc.UnhangBroker()
	after := newV5Client(t, dc, "after")
	after.publish(t, "devices/dev-1/events/ping", "back")
	require.Equal(t, "back", receive(t, after.messages(), "MQTT subscriber"))
}

func TestKillBrokerLeavingHang(t *testing.T) {
	t.Parallel()
	dc := startCloud(t, devicecloud.Config{})
	before := newV5Client(t, dc, "before")

	dc.KillBrokerLeavingHang()
	select {
	case <-before.c.Done():
	case <-time.After(deliverWithin):
		require.FailNow(t, "existing connection should be dropped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), silentFor)
	defer cancel()
	_, _, err := connectV5(ctx, dc.MQTTAddr(), "during-hang")
	require.ErrorIs(t, err, context.DeadlineExceeded, "the port accepts, but CONNECT gets no CONNACK")

	dc.UnhangBroker()
	after := newV5Client(t, dc, "after")
	after.publish(t, "devices/dev-1/events/ping", "back")
	require.Equal(t, "back", receive(t, after.messages(), "MQTT subscriber"))
}

func TestCloseWhileBroken(t *testing.T) {
	t.Parallel()
	for _, brk := range []struct {
		name string
		do   func(dc *devicecloud.DeviceCloud)
	}{
		{"hung", (*devicecloud.DeviceCloud).HangBroker},
		{"killed, leaving a hang", (*devicecloud.DeviceCloud).KillBrokerLeavingHang},
		{"stopped", (*devicecloud.DeviceCloud).StopBroker},
		{"relay", (*devicecloud.DeviceCloud).BreakRelay},
	} {
		t.Run(brk.name, func(t *testing.T) {
			t.Parallel()
			dc, err := devicecloud.Start(devicecloud.Config{})
			require.NoError(t, err)
			stream := subscribeSSE(t, dc)
			newV5Client(t, dc, "client")
			brk.do(dc)
			require.NoError(t, dc.Close())
			require.NoError(t, dc.Close(), "Close twice")
			for range stream { // the stream ends with the cloud
			}
		})
	}
}

func TestDevicePublishes(t *testing.T) {
	t.Parallel()
	hook, hooked := webhookSink(t)
	dc := startCloud(t, devicecloud.Config{Webhooks: []string{hook}})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- devicecloud.Device{ID: "boron-7", Event: "temp", Interval: 20 * time.Millisecond}.Run(ctx, dc.MQTTURL())
	}()
	ev := receive(t, hooked, "webhook")
	require.Equal(t, "boron-7", ev.CoreID)
	require.Equal(t, "temp", ev.Name)
	require.Contains(t, ev.Data, `"seq":`)

	cancel()
	require.NoError(t, receive(t, done, "device to stop"))
	require.Error(t, devicecloud.Device{ID: "x"}.Run(context.Background(), "mqtt://nowhere"))
}

func TestWebhookFailuresDoNotLogURL(t *testing.T) {
	t.Parallel()
	logs := make(chan string, 16)
	dc := startCloud(t, devicecloud.Config{Logger: slogTo(logs)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, ln.Close()) // a port nobody listens on
	dc.AddWebhook(fmt.Sprintf("http://%s/hook?token=s3cr3t", ln.Addr()))
	newV5Client(t, dc, "pub").publish(t, "devices/dev-1/events/ping", "x")

	line := receive(t, logs, "webhook failure log")
	require.Contains(t, line, "webhook delivery failed")
	require.NotContains(t, line, "s3cr3t")
}
