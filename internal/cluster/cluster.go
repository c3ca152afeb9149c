// Package cluster joins tocsin replicas into a gossip cluster with
// Alertmanager's own cluster package (memberlist), with Alertmanager's flag
// names and meanings, and exports the cluster's health as tocsin metrics.
package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	amcluster "github.com/prometheus/alertmanager/cluster"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Settings are the --cluster.* flags.
type Settings struct {
	// ListenAddress is where gossip is served; empty disables the cluster.
	ListenAddress    string
	AdvertiseAddress string
	Peers            []string
	// PeerTimeout is how long each position waits before it sends: a
	// replica at position n holds a notification back n × PeerTimeout.
	PeerTimeout   time.Duration
	SettleTimeout time.Duration
	// TLSConfigFile enables mutual TLS between replicas (Alertmanager's
	// --cluster.tls-config format).
	TLSConfigFile     string
	Label             string
	GossipInterval    time.Duration
	PushPullInterval  time.Duration
	ProbeTimeout      time.Duration
	ProbeInterval     time.Duration
	ReconnectInterval time.Duration
	ReconnectTimeout  time.Duration
	// Name is this replica's name in the cluster; empty picks a unique one.
	Name string
}

// Defaults, as Alertmanager's.
const (
	DefaultPeerTimeout   = 15 * time.Second
	DefaultSettleTimeout = amcluster.DefaultPushPullInterval
)

// Peer is this replica's membership of the cluster.
type Peer struct {
	*amcluster.Peer
	settings Settings
	gossip   *prometheus.Registry
	logger   *slog.Logger
	// stopSettling ends the wait for gossip to settle and returns once
	// it has ended.
	stopSettling func()
}

// Join creates the peer, joins the known peers and starts settling in the
// background. Metrics of the gossip layer go to a registry of their own;
// tocsin_cluster_* are registered with reg.
func Join(s Settings, logger *slog.Logger, reg prometheus.Registerer) (*Peer, error) {
	if s.PeerTimeout <= 0 {
		s.PeerTimeout = DefaultPeerTimeout
	}
	if s.SettleTimeout <= 0 {
		s.SettleTimeout = DefaultSettleTimeout
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&s.GossipInterval, amcluster.DefaultGossipInterval)
	def(&s.PushPullInterval, amcluster.DefaultPushPullInterval)
	def(&s.ProbeTimeout, amcluster.DefaultProbeTimeout)
	def(&s.ProbeInterval, amcluster.DefaultProbeInterval)
	def(&s.ReconnectInterval, amcluster.DefaultReconnectInterval)
	def(&s.ReconnectTimeout, amcluster.DefaultReconnectTimeout)
	var tlsConf *amcluster.TLSTransportConfig
	if s.TLSConfigFile != "" {
		var err error
		if tlsConf, err = amcluster.GetTLSTransportConfig(s.TLSConfigFile); err != nil {
			return nil, fmt.Errorf("cluster: --cluster.tls-config: %w", err)
		}
	}
	gossip := prometheus.NewRegistry()
	p, err := amcluster.Create(logger, gossip, s.ListenAddress, s.AdvertiseAddress, s.Peers, true,
		s.PushPullInterval, s.GossipInterval, amcluster.DefaultTCPTimeout, amcluster.DefaultResolvePeersTimeout,
		s.ProbeTimeout, s.ProbeInterval, tlsConf, false, s.Label, s.Name)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if err := p.Join(s.ReconnectInterval, s.ReconnectTimeout); err != nil {
		// Not fatal: the peers may not be up yet, and the peer keeps
		// trying to reconnect, as Alertmanager does.
		logger.Warn("joining the cluster failed; retrying in the background", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.SettleTimeout)
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		p.Settle(ctx, s.GossipInterval*10)
	}()
	peer := &Peer{Peer: p, settings: s, gossip: gossip, logger: logger, stopSettling: func() { cancel(); <-settled }}
	if reg != nil {
		reg.MustRegister(peer.collectors()...)
	}
	return peer, nil
}

// PeerTimeout is the wait per position.
func (p *Peer) PeerTimeout() time.Duration { return p.settings.PeerTimeout }

// Close stops waiting for gossip to settle and leaves the cluster.
func (p *Peer) Close() error {
	p.stopSettling()
	return p.Leave(10 * time.Second)
}

func (p *Peer) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tocsin_cluster_members",
			Help: "Replicas in the cluster as this one sees them, itself included.",
		}, func() float64 { return float64(p.ClusterSize()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tocsin_cluster_health_score",
			Help: "memberlist's health score of this replica: 0 is healthy, higher means it is slow to answer its peers.",
		}, func() float64 { return p.gauge("alertmanager_cluster_health_score") }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tocsin_cluster_position",
			Help: "This replica's position in the cluster: it waits position × peer timeout before it notifies.",
		}, func() float64 { return float64(p.Position()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tocsin_cluster_settled",
			Help: "Whether gossip has settled since start (1), or this replica still waits for it (0).",
		}, func() float64 {
			if p.Ready() {
				return 1
			}
			return 0
		}),
	}
}

// gauge reads one gauge of the gossip layer's own registry.
func (p *Peer) gauge(name string) float64 {
	mfs, err := p.gossip.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return metricValue(mf.GetMetric()[0])
		}
	}
	return 0
}

func metricValue(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return 0
}

// Replicate gossips s under key: a full copy when replicas sync, and what
// the returned function is given at once to every peer.
func (p *Peer) Replicate(key string, s amcluster.State) func([]byte) {
	return p.AddState(key, s, p.gossip).Broadcast
}
