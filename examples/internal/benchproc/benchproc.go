// Package benchproc holds what the side-by-side benchmark commands need to
// run servers as their own processes: a free loopback address to give one,
// and a wait for its readiness endpoint.
package benchproc

import (
	"errors"
	"net"
	"net/http"
	"time"
)

// WaitReady waits up to 30 s for base + "/-/ready" to answer 200, as
// tocsin, Prometheus and Alertmanager do once they serve.
func WaitReady(base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("not ready after 30s")
}

// FreeAddress returns a 127.0.0.1 address that nothing listened on a
// moment ago.
func FreeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
