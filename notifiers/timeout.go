package notifiers

import (
	"context"
	"time"
)

// WithTimeout bounds each call of an integration by its own timeout, the
// `timeout` key Alertmanager has on some integrations, within the
// dispatcher's bound of an attempt. A d of 0 returns n as it is.
func WithTimeout(n Notifier, d time.Duration) Notifier {
	if d <= 0 {
		return n
	}
	return &timeoutNotifier{next: n, timeout: d}
}

type timeoutNotifier struct {
	next    Notifier
	timeout time.Duration
}

func (t *timeoutNotifier) Notify(ctx context.Context, n *Notification) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.next.Notify(ctx, n)
}
