package main

import (
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/tocsin-alerting/tocsin/internal/cluster"
)

// addClusterFlags adds Alertmanager's --cluster.* flags, with their names
// and meanings.
func addClusterFlags(flags *pflag.FlagSet) {
	flags.String("cluster.listen-address", "", "address to gossip with other tocsin replicas on, such as 0.0.0.0:9794; empty runs no cluster")
	flags.String("cluster.advertise-address", "", "address other replicas reach this one at (default: derived from the listen address)")
	flags.StringSlice("cluster.peer", nil, "address of another replica to join (repeatable; host names resolve to every address)")
	flags.Duration("cluster.peer-timeout", cluster.DefaultPeerTimeout, "a replica waits its position in the cluster times this before it notifies")
	flags.Duration("cluster.settle-timeout", cluster.DefaultSettleTimeout, "longest wait at start for gossip to settle before notifying")
	flags.String("cluster.tls-config", "", "file with mutual TLS settings for gossip, in Alertmanager's --cluster.tls-config format")
	flags.String("cluster.label", "", "label on every gossip packet; replicas with another label are ignored")
	flags.Duration("cluster.gossip-interval", 0, "interval between gossip messages (default 200ms)")
	flags.Duration("cluster.pushpull-interval", 0, "interval between full state syncs (default 1m)")
	flags.Duration("cluster.probe-interval", 0, "interval between probes of a random peer (default 1s)")
	flags.Duration("cluster.probe-timeout", 0, "how long to wait for a probed peer's answer before suspecting it (default 500ms)")
	flags.Duration("cluster.reconnect-interval", 0, "interval between attempts to reconnect to lost peers (default 10s)")
	flags.Duration("cluster.reconnect-timeout", 0, "how long to keep trying to reconnect to a lost peer (default 6h)")
}

func clusterSettings(v *viper.Viper) cluster.Settings {
	return cluster.Settings{
		ListenAddress:     v.GetString("cluster.listen-address"),
		AdvertiseAddress:  v.GetString("cluster.advertise-address"),
		Peers:             v.GetStringSlice("cluster.peer"),
		PeerTimeout:       v.GetDuration("cluster.peer-timeout"),
		SettleTimeout:     v.GetDuration("cluster.settle-timeout"),
		TLSConfigFile:     v.GetString("cluster.tls-config"),
		Label:             v.GetString("cluster.label"),
		GossipInterval:    v.GetDuration("cluster.gossip-interval"),
		PushPullInterval:  v.GetDuration("cluster.pushpull-interval"),
		ProbeInterval:     v.GetDuration("cluster.probe-interval"),
		ProbeTimeout:      v.GetDuration("cluster.probe-timeout"),
		ReconnectInterval: v.GetDuration("cluster.reconnect-interval"),
		ReconnectTimeout:  v.GetDuration("cluster.reconnect-timeout"),
	}
}
