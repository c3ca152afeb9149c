package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkOversizedBody sends a 64 MiB body without a Content-Length, so
// that the limit is found while reading: what one such request costs in
// memory is bounded by the 1 MiB limit, not by what the client sends.
func BenchmarkOversizedBody(b *testing.B) {
	s := New(Options{})
	s.Handle("POST /api/v1/heartbeats/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b.Fatal("the handler must not run for an oversized body")
	}))
	h := s.Handler()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/heartbeats/hb", io.LimitReader(zeros{}, 64<<20))
		req.ContentLength = -1
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
