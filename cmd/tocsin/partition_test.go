package main

import (
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gossipProxy relays a replica's gossip (memberlist speaks UDP and TCP on
// one port) and can be cut, to partition the cluster.
type gossipProxy struct {
	addr   string
	target string
	cut    atomic.Bool

	udp *net.UDPConn
	tcp net.Listener

	mu    sync.Mutex
	conns map[net.Conn]bool
	flows map[string]*net.UDPConn // source address → socket towards target
	done  chan struct{}
}

func newGossipProxy(t *testing.T, target string) *gossipProxy {
	t.Helper()
	var p *gossipProxy
	for range 20 { // the TCP and UDP ports must be the same number
		addr := freePort(t)
		ua, err := net.ResolveUDPAddr("udp", addr)
		require.NoError(t, err)
		u, err := net.ListenUDP("udp", ua)
		if err != nil {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			u.Close()
			continue
		}
		p = &gossipProxy{addr: addr, target: target, udp: u, tcp: l, conns: map[net.Conn]bool{}, flows: map[string]*net.UDPConn{}, done: make(chan struct{})}
		break
	}
	require.NotNil(t, p, "no port free for both TCP and UDP")
	go p.serveUDP()
	go p.serveTCP()
	t.Cleanup(p.close)
	return p
}

func (p *gossipProxy) close() {
	close(p.done)
	p.udp.Close()
	p.tcp.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	for _, f := range p.flows {
		f.Close()
	}
}

// setCut drops every packet and connection while cut.
func (p *gossipProxy) setCut(cut bool) {
	p.cut.Store(cut)
	if !cut {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *gossipProxy) serveUDP() {
	buf := make([]byte, 65536)
	for {
		n, src, err := p.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if p.cut.Load() {
			continue
		}
		f, err := p.flow(src)
		if err != nil {
			continue
		}
		_, _ = f.Write(buf[:n])
	}
}

// flow returns the socket that carries src's datagrams to the target, and
// the target's answers back to src.
func (p *gossipProxy) flow(src *net.UDPAddr) (*net.UDPConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f, ok := p.flows[src.String()]; ok {
		return f, nil
	}
	ta, err := net.ResolveUDPAddr("udp", p.target)
	if err != nil {
		return nil, err
	}
	f, err := net.DialUDP("udp", nil, ta)
	if err != nil {
		return nil, err
	}
	p.flows[src.String()] = f
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			if !p.cut.Load() {
				_, _ = p.udp.WriteToUDP(buf[:n], src)
			}
		}
	}()
	return f, nil
}

func (p *gossipProxy) serveTCP() {
	for {
		c, err := p.tcp.Accept()
		if err != nil {
			return
		}
		if p.cut.Load() {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(c, up)
		go pipe(up, c)
	}
}

// A partition between two replicas: each side pages (fail open), and once
// healed they share their notification logs again, so the resolve goes out
// once. The peer timeout (5s) is longer than group_interval (1s), so the
// second replica's wait outlasts any offset between the two group timers.
func TestPartitionedReplicasBothPageAndConvergeAfter(t *testing.T) {
	failing, targetURL, v := haTargetAndVendor(t)
	// Each replica's gossip goes through a proxy in front of it.
	listen := []string{freePort(t), freePort(t)}
	proxies := []*gossipProxy{newGossipProxy(t, listen[0]), newGossipProxy(t, listen[1])}
	replicas := startHAListening(t, targetURL, v.fake.APIURL(), "0s", "5s", listen, []string{proxies[0].addr, proxies[1].addr})

	for _, p := range proxies {
		p.setCut(true)
	}
	for _, r := range replicas {
		require.Eventually(t, func() bool { return metric(t, r.base, "tocsin_cluster_members") == 1 }, 30*time.Second, 20*time.Millisecond,
			"%s: the other side is gone", r.name)
	}
	failing.Store(true)
	require.Eventually(t, func() bool { return sentBy(v, "r0") && sentBy(v, "r1") }, 20*time.Second, 10*time.Millisecond,
		"each side of the partition pages")

	for _, p := range proxies {
		p.setCut(false)
	}
	for _, r := range replicas {
		require.Eventually(t, func() bool { return metric(t, r.base, "tocsin_cluster_members") == 2 }, 30*time.Second, 20*time.Millisecond,
			"%s: the partition heals", r.name)
	}
	time.Sleep(2 * time.Second) // two full syncs (pushpull 1s)
	firing := len(v.received("api"))
	failing.Store(false)
	require.Eventually(t, func() bool {
		p := v.received("api")
		return len(p) > firing && p[len(p)-1].resolved
	}, 20*time.Second, 10*time.Millisecond)
	time.Sleep(7 * time.Second) // long enough for a second resolve to show, had the logs not been shared
	resolves := 0
	for _, p := range v.received("api") {
		if p.resolved {
			resolves++
		}
	}
	require.Equal(t, 1, resolves, "after healing, the replicas know each other's pages: one resolve")
}

// sentBy reports whether a firing page said it came from replica.
func sentBy(v *vendorLog, replica string) bool {
	for _, rq := range v.fake.Requests() {
		b := string(rq.Body)
		if strings.Contains(b, `"status":"firing"`) && strings.Contains(b, `"replica":"`+replica+`"`) {
			return true
		}
	}
	return false
}
