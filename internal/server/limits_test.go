package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultLimitsCloseSlowConnectionsWithinAMinute(t *testing.T) {
	l := DefaultLimits()
	// A trickling body is cut off by ReadTimeout (headers by ReadHeaderTimeout
	// before it), an idle keep-alive connection by IdleTimeout.
	require.LessOrEqual(t, l.ReadHeaderTimeout, l.ReadTimeout)
	require.LessOrEqual(t, l.ReadTimeout, time.Minute)
	require.LessOrEqual(t, l.IdleTimeout, time.Minute)
	require.LessOrEqual(t, l.WriteTimeout, time.Minute)
	require.Positive(t, l.MaxRequestBodyBytes)
	require.Equal(t, l, Limits{}.withDefaults(), "zero limits take the defaults")
	s := New(Options{})
	require.Equal(t, l, s.opts.Limits)
}

// echoBody answers with the length of the body it read.
var echoBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "read %d bytes", len(b))
})

func TestBodyLimit(t *testing.T) {
	s := newTestServer(t, Options{Limits: Limits{MaxRequestBodyBytes: 1024}})
	s.Handle("POST /api/v1/heartbeats/", echoBody)
	base := serve(t, s, "http")

	tests := []struct {
		name    string
		size    int
		chunked bool
		code    int
	}{
		{"at the limit", 1024, false, 200},
		{"over the limit", 1025, false, 413},
		{"far over the limit", 64 << 20, false, 413},
		{"chunked at the limit", 1024, true, 200},
		{"chunked over the limit", 1025, true, 413},
		{"chunked far over the limit", 64 << 20, true, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = io.LimitReader(zeros{}, int64(tc.size))
			if !tc.chunked {
				body = strings.NewReader(strings.Repeat("x", tc.size))
			}
			req, err := http.NewRequest("POST", base+"/api/v1/heartbeats/hb", body)
			require.NoError(t, err)
			if tc.chunked {
				req.ContentLength = -1
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				// The server may close the connection while a large body is
				// still being sent; the answer it gave first is what counts.
				require.Equal(t, 413, tc.code, "request failed: %v", err)
				return
			}
			defer resp.Body.Close()
			require.Equal(t, tc.code, resp.StatusCode)
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestTricklingBodyIsClosed sends a body one byte at a time and slower than
// the read timeout allows: the server must give up on the connection.
func TestTricklingBodyIsClosed(t *testing.T) {
	s := newTestServer(t, Options{Limits: Limits{ReadTimeout: 300 * time.Millisecond, ReadHeaderTimeout: 300 * time.Millisecond}})
	s.Handle("POST /api/v1/heartbeats/", echoBody)
	base := serve(t, s, "http")

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /api/v1/heartbeats/hb HTTP/1.1\r\nHost: tocsin\r\nContent-Length: 1000\r\n\r\n")
	require.NoError(t, err)

	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-trickled }()

	requireClosed(t, conn)
}

// TestIdleConnectionIsClosed keeps a connection open after one request
// without sending another: the server must close it.
func TestIdleConnectionIsClosed(t *testing.T) {
	s := newTestServer(t, Options{Limits: Limits{IdleTimeout: 300 * time.Millisecond}})
	base := serve(t, s, "http")

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET /-/healthy HTTP/1.1\r\nHost: tocsin\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.False(t, resp.Close, "the connection is kept alive after the request")

	requireClosed(t, &bufConn{Conn: conn, r: br})
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// requireClosed reads until the server closes the connection. The deadline
// only keeps a broken server from hanging the test; it is far longer than
// the timeouts under test.
func requireClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the connection open")
	}
}
