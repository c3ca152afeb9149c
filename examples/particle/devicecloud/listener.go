package devicecloud

import (
	"errors"
	"net"
	"sync"
)

// switchListener is the broker's TCP listener. It keeps one address for its
// whole life, so the broker can be stopped (connection refused) and started
// again on the same port, or hung: connections are still accepted but nothing
// is read from or written to any of them until the hang is lifted.
//
// The MQTT server sees one long-lived net.Listener: Accept blocks while the
// port is closed and only fails once the listener is closed for good.
type switchListener struct {
	addr *net.TCPAddr

	mu      sync.Mutex
	tcp     net.Listener            // nil while stopped
	conns   map[*gatedConn]struct{} // every accepted, still open connection
	gate    chan struct{}           // closed while traffic may flow; open while hung
	changed chan struct{}           // closed and replaced on every start/stop/close
	closed  bool
}

func listenSwitch(address string) (*switchListener, error) {
	tcp, err := net.Listen("tcp", address)
	if err != nil {
		return nil, err
	}
	gate := make(chan struct{})
	close(gate)
	return &switchListener{
		addr:    tcp.Addr().(*net.TCPAddr),
		tcp:     tcp,
		conns:   map[*gatedConn]struct{}{},
		gate:    gate,
		changed: make(chan struct{}),
	}, nil
}

// Accept waits for the next connection, across stops and starts.
func (l *switchListener) Accept() (net.Conn, error) {
	for {
		l.mu.Lock()
		tcp, changed, closed := l.tcp, l.changed, l.closed
		l.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		if tcp == nil {
			<-changed // stopped: wait for a start or the final close
			continue
		}
		c, err := tcp.Accept()
		if err != nil {
			l.mu.Lock()
			replaced := l.tcp != tcp || l.closed
			l.mu.Unlock()
			if replaced || errors.Is(err, net.ErrClosed) {
				continue
			}
			return nil, err
		}
		gc := &gatedConn{Conn: c, l: l, done: make(chan struct{})}
		l.mu.Lock()
		if l.closed || l.tcp != tcp {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.conns[gc] = struct{}{}
		l.mu.Unlock()
		return gc, nil
	}
}

// Addr reports the fixed address, also while stopped.
func (l *switchListener) Addr() net.Addr { return l.addr }

// Close stops accepting for good and drops every connection.
func (l *switchListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.stopLocked()
	return nil
}

// stop closes the port and drops every connection, as a dead process would.
func (l *switchListener) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopLocked()
}

func (l *switchListener) stopLocked() {
	if l.tcp != nil {
		_ = l.tcp.Close()
		l.tcp = nil
	}
	l.dropConnsLocked()
	close(l.changed)
	l.changed = make(chan struct{})
}

// start listens on the same address again.
func (l *switchListener) start() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return net.ErrClosed
	}
	if l.tcp != nil {
		return nil
	}
	tcp, err := net.Listen("tcp", l.addr.String())
	if err != nil {
		return err
	}
	l.tcp = tcp
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

// hang makes every connection, present and future, go silent.
func (l *switchListener) hang() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hangLocked()
}

// hangLocked closes the gate; l.mu is held.
func (l *switchListener) hangLocked() {
	select {
	case <-l.gate:
		l.gate = make(chan struct{})
	default: // already hung
	}
}

// replaceWithHang drops every connection, as a dead process would, while
// the port keeps accepting and answers nothing: a host whose broker died
// and left a listener behind that never answers.
func (l *switchListener) replaceWithHang() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hangLocked()
	l.dropConnsLocked()
}

// dropConnsLocked closes every accepted connection; l.mu is held.
func (l *switchListener) dropConnsLocked() {
	for c := range l.conns {
		c.closeOnce.Do(func() { close(c.done) })
		_ = c.Conn.Close()
		delete(l.conns, c)
	}
}

// unhang lets held connections carry on where they stopped.
func (l *switchListener) unhang() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.gate:
	default:
		close(l.gate)
	}
}

// wait blocks while the listener is hung; it returns net.ErrClosed once the
// connection is closed.
func (l *switchListener) wait(c *gatedConn) error {
	l.mu.Lock()
	gate := l.gate
	l.mu.Unlock()
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	select {
	case <-gate:
		return nil
	case <-c.done:
		return net.ErrClosed
	}
}

// gatedConn is a broker connection that stops moving bytes while its listener
// is hung. Bytes already read from the network are held back, not delivered.
type gatedConn struct {
	net.Conn
	l         *switchListener
	done      chan struct{}
	closeOnce sync.Once
}

func (c *gatedConn) Read(p []byte) (int, error) {
	if err := c.l.wait(c); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if werr := c.l.wait(c); werr != nil {
		return 0, werr
	}
	return n, err
}

func (c *gatedConn) Write(p []byte) (int, error) {
	if err := c.l.wait(c); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *gatedConn) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
