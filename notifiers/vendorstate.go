package notifiers

import (
	"context"
	"maps"
	"sync"
)

// VendorState is what one integration remembers about one group between
// notifications, such as the Slack message that a resolve should update.
// It is kept in the notification log entry of the integration, so it
// survives a restart, and a notifier finds it in the context of Notify.
type VendorState struct {
	mu sync.Mutex
	m  map[string]string
}

func newVendorState(m map[string]string) *VendorState {
	return &VendorState{m: maps.Clone(m)}
}

// Get returns the value kept under key, or "".
func (s *VendorState) Get(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}

// Set keeps value under key; the notification log stores it once the
// vendor has accepted the notification.
func (s *VendorState) Set(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[key] = value
}

func (s *VendorState) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) == 0 {
		return nil
	}
	return maps.Clone(s.m)
}

type vendorStateKey struct{}

// WithVendorState returns ctx carrying s for the notifier it is passed to.
func WithVendorState(ctx context.Context, s *VendorState) context.Context {
	return context.WithValue(ctx, vendorStateKey{}, s)
}

// VendorStateFrom returns the state of the integration being notified. A
// context without one (tocsin notify test) gets a fresh state that is not
// kept.
func VendorStateFrom(ctx context.Context) *VendorState {
	if s, ok := ctx.Value(vendorStateKey{}).(*VendorState); ok && s != nil {
		return s
	}
	return newVendorState(nil)
}
