package probes

import (
	pahov3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// noStore is a paho.mqtt.golang Store that keeps nothing. A probe message
// is worth only the run that sent it: one not acknowledged before the
// connection dropped is stale by the time the client reconnects, and
// resending it would prove nothing. Keeping nothing also keeps paho from
// resending stored publishes on reconnect, which races with the publish
// still queued for the new connection (eclipse-paho/paho.mqtt.golang#703).
type noStore struct{}

var _ pahov3.Store = noStore{}

func (noStore) Open()                             {}
func (noStore) Put(string, packets.ControlPacket) {}
func (noStore) Get(string) packets.ControlPacket  { return nil }
func (noStore) All() []string                     { return nil }
func (noStore) Del(string)                        {}
func (noStore) Close()                            {}
func (noStore) Reset()                            {}
