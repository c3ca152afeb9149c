package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Limits bound what one client can make tocsin hold: the size of a request
// body and how long a connection may stay open without making progress.
// Without them, a few hundred connections that send a body one byte a
// second, or that sit idle after a request, exhaust file descriptors.
type Limits struct {
	// MaxRequestBodyBytes is the largest request body accepted; a larger
	// one is refused with 413 before any handler sees it.
	MaxRequestBodyBytes int64
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
	// ReadHeaderTimeout bounds reading the request line and headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included: a client
	// trickling its body is cut off when it runs out.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request's headers
	// to the end of the response.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no new request.
	IdleTimeout time.Duration
}

// DefaultLimits close a trickling or idle connection within 30 s and any
// connection within 60 s of its last request's headers, and accept bodies
// of up to 1 MiB: heartbeats and webhook calls are a few hundred bytes, an
// Alertmanager batch of alerts a few hundred kilobytes.
func DefaultLimits() Limits {
	return Limits{
		MaxRequestBodyBytes: 1 << 20,
		MaxHeaderBytes:      64 << 10,
		ReadHeaderTimeout:   10 * time.Second,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        60 * time.Second,
		IdleTimeout:         30 * time.Second,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	return Limits{
		MaxRequestBodyBytes: positiveOr(l.MaxRequestBodyBytes, d.MaxRequestBodyBytes),
		MaxHeaderBytes:      positiveOr(l.MaxHeaderBytes, d.MaxHeaderBytes),
		ReadHeaderTimeout:   positiveOr(l.ReadHeaderTimeout, d.ReadHeaderTimeout),
		ReadTimeout:         positiveOr(l.ReadTimeout, d.ReadTimeout),
		WriteTimeout:        positiveOr(l.WriteTimeout, d.WriteTimeout),
		IdleTimeout:         positiveOr(l.IdleTimeout, d.IdleTimeout),
	}
}

func positiveOr[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// limitBody reads a request's body, up to max bytes, before the handler
// runs, and answers 413 when it is longer. Every handler then sees a body
// that is complete and within the limit, whatever it does with it, so one
// limit holds for every endpoint, those other components mount included.
func limitBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			tooLarge(w, max)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				tooLarge(w, max)
				return
			}
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, max int64) {
	w.Header().Set("Connection", "close")
	http.Error(w, fmt.Sprintf("request body is larger than %d bytes", max), http.StatusRequestEntityTooLarge)
}
