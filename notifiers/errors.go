package notifiers

import (
	"fmt"
	"time"
)

// VendorError is a vendor's refusal of a notification, with the vendor's own
// reason kept so that an on-call engineer can see why a page did not leave.
type VendorError struct {
	Integration string
	StatusCode  int
	// Reason is the vendor's explanation, taken from its error body.
	Reason string
	// RetryAfter is how long the vendor asked us to wait (429 Retry-After).
	RetryAfter time.Duration
}

func (e *VendorError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("%s: HTTP %d", e.Integration, e.StatusCode)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Integration, e.StatusCode, e.Reason)
}

// Retryable reports whether an HTTP status is worth another attempt: 429 and
// 5xx are; any other 4xx is the request's own fault and is permanent.
func Retryable(status int) bool {
	return status == 429 || status >= 500
}
