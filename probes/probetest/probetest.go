// Package probetest starts real brokers for tests of probes and of what is
// built on them: an in-process MQTT broker (mochi-mqtt), an in-process NATS
// server, a broker that accepts TCP but never answers, and Debian's
// mosquitto when it is installed.
package probetest

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	natsserver "github.com/nats-io/nats-server/v2/server"
)

// MQTTBroker is an in-process mochi-mqtt broker listening on 127.0.0.1.
type MQTTBroker struct {
	Server *mqtt.Server
	// URL is tcp://127.0.0.1:<port>.
	URL  string
	once sync.Once
}

// StartMQTT starts a broker that lets every client in, with extra hooks
// (such as DropPublishes) added after the allow-all auth hook. It stops
// when the test ends, or earlier with Close.
func StartMQTT(tb testing.TB, hooks ...mqtt.Hook) *MQTTBroker {
	tb.Helper()
	return startMQTT(tb, listeners.Config{ID: "tcp", Address: "127.0.0.1:0"}, "tcp://", hooks)
}

// startMQTT starts a broker with one listener, the allow-all auth hook and
// hooks, and closes it when the test ends.
func startMQTT(tb testing.TB, lc listeners.Config, scheme string, hooks []mqtt.Hook) *MQTTBroker {
	tb.Helper()
	s := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	for _, h := range append([]mqtt.Hook{new(auth.AllowHook)}, hooks...) {
		if err := s.AddHook(h, nil); err != nil {
			tb.Fatalf("mqtt broker: %v", err)
		}
	}
	l := listeners.NewTCP(lc)
	if err := s.AddListener(&guardedListener{TCP: l, clients: &s.Listeners.ClientsWg}); err != nil {
		tb.Fatalf("mqtt broker: %v", err)
	}
	if err := s.Serve(); err != nil {
		tb.Fatalf("mqtt broker: %v", err)
	}
	b := &MQTTBroker{Server: s, URL: scheme + l.Address()}
	tb.Cleanup(b.Close)
	return b
}

// Close stops the broker; clients see their connections drop.
func (b *MQTTBroker) Close() { b.once.Do(func() { _ = b.Server.Close() }) }

// DropPublishes is a broker hook that acknowledges every publish and then
// discards it: the broker looks healthy to publishers, yet nothing flows.
type DropPublishes struct{ mqtt.HookBase }

// ID names the hook.
func (h *DropPublishes) ID() string { return "drop-publishes" }

// Provides says the hook handles OnPublish.
func (h *DropPublishes) Provides(b byte) bool { return b == mqtt.OnPublish }

// OnPublish acknowledges and drops the message.
func (h *DropPublishes) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	return pk, packets.CodeSuccessIgnore
}

// Hanging accepts TCP connections and never answers a byte, like a broker
// whose process is stuck. It returns its tcp:// URL.
func Hanging(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "tcp://" + ln.Addr().String()
}

// NATS is an in-process nats-server on 127.0.0.1.
type NATS struct {
	Server *natsserver.Server
	URL    string
	once   sync.Once
}

// StartNATS starts a NATS server that stops when the test ends.
func StartNATS(tb testing.TB) *NATS {
	tb.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		tb.Fatalf("nats server did not start")
	}
	n := &NATS{Server: s, URL: s.ClientURL()}
	tb.Cleanup(n.Close)
	return n
}

// Close stops the server.
func (n *NATS) Close() {
	n.once.Do(func() {
		n.Server.Shutdown()
		n.Server.WaitForShutdown()
	})
}

// MosquittoPath finds Debian's mosquitto binary, or returns "".
func MosquittoPath() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	return ""
}

// StartMosquitto runs mosquitto on a free 127.0.0.1 port with anonymous
// access and returns its tcp:// URL. The test is skipped when mosquitto is
// not installed (apt-get install mosquitto).
func StartMosquitto(tb testing.TB) string {
	tb.Helper()
	bin := MosquittoPath()
	if bin == "" {
		// CI installs mosquitto (.ci/run); there a missing binary is a
		// broken set-up, not a reason to skip.
		if os.Getenv("CI") == "true" {
			tb.Fatal("mosquitto is not installed, but CI=true: .ci/run should have installed it")
		}
		tb.Skip("mosquitto is not installed (apt-get install mosquitto); skipping the interop test")
	}
	port := freePort(tb)
	dir := tb.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	content := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n", port)
	if err := os.WriteFile(conf, []byte(content), 0o600); err != nil {
		tb.Fatalf("mosquitto config: %v", err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return "tcp://" + addr
		}
		select {
		case <-exited:
			tb.Fatalf("mosquitto exited: %s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("mosquitto did not listen on %s", addr)
		}
	}
}

func freePort(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
