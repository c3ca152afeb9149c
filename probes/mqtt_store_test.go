package probes

import (
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/stretchr/testify/require"
)

// An MQTT 3.1.1 probe connection keeps no message for after a reconnect:
// paho finds nothing to resend, so a stale probe message never goes out
// again and never races with the new connection's own queue.
func TestMQTT311StoreKeepsNothing(t *testing.T) {
	var s noStore
	s.Open()
	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.Qos, pub.MessageID, pub.TopicName = 1, 7, "canary/ping"
	s.Put("o.7", pub)
	require.Empty(t, s.All())
	require.Nil(t, s.Get("o.7"))
	s.Del("o.7")
	s.Reset()
	s.Close()
}
