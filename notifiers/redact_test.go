package notifiers

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScrub(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		text    string
		want    string
	}{
		{"plain", []string{"s3cr3t-key"}, "bad key s3cr3t-key!", "bad key <secret>!"},
		{"query escaped", []string{"a b/c+d=="}, "token=a+b%2Fc%2Bd%3D%3D", "token=<secret>"},
		{"json escaped", []string{`pa"ss\word`}, `{"password":"pa\"ss\\word"}`, `{"password":"<secret>"}`},
		{"webhook URL whole", []string{"https://hooks.slack.com/services/T0001/B0001/XyZ123abc456"},
			"POST https://hooks.slack.com/services/T0001/B0001/XyZ123abc456 failed", "POST <secret> failed"},
		{"webhook URL path only", []string{"https://hooks.slack.com/services/T0001/B0001/XyZ123abc456"},
			"POST /services/T0001/B0001/XyZ123abc456 HTTP/1.1", "POST <secret> HTTP/1.1"},
		{"token-like segment alone", []string{"https://hooks.slack.com/services/T0001/B0001/XyZ123abc456"},
			"no webhook XyZ123abc456 for services", "no webhook <secret> for services"},
		{"query value", []string{"https://x.example/invoke?api-version=1&sig=AbC123dEf456"},
			"signature AbC123dEf456 does not match", "signature <secret> does not match"},
		{"URL password", []string{"https://user:pa55w0rd-x@x.example/hook"}, "auth pa55w0rd-x refused", "auth <secret> refused"},
		{"too short to scrub", []string{"abc"}, "abc abc", "abc abc"},
		{"longest first", []string{"key", "key-and-more"}, "key-and-more", "<secret>"},
		{"no secrets", nil, "nothing to hide", "nothing to hide"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Scrub(tc.text, tc.secrets))
		})
	}
}

func TestScrubErrorKeepsWhatCallersLookFor(t *testing.T) {
	secrets := []string{"genie-secret-key"}
	ve := &VendorError{Integration: "opsgenie", StatusCode: 429, Reason: "GenieKey genie-secret-key is rate limited", RetryAfter: 7}
	err := ScrubError(fmt.Errorf("opsgenie: %w", ve), secrets)
	require.NotContains(t, err.Error(), "genie-secret-key")
	var got *VendorError
	require.ErrorAs(t, err, &got)
	require.Equal(t, 429, got.StatusCode)
	require.EqualValues(t, 7, got.RetryAfter)
	require.Equal(t, "GenieKey <secret> is rate limited", got.Reason)
	require.Contains(t, ve.Reason, "genie-secret-key", "the original is left alone")

	timeout := ScrubError(fmt.Errorf("post genie-secret-key: %w", context.DeadlineExceeded), secrets)
	require.ErrorIs(t, timeout, context.DeadlineExceeded)
	require.NotErrorIs(t, timeout, context.Canceled)
	require.NoError(t, ScrubError(nil, secrets))

	// Nothing else of the chain is reachable: its text holds the secret.
	inner := errors.New("genie-secret-key")
	require.NotErrorIs(t, ScrubError(fmt.Errorf("x: %w", inner), secrets), inner)
}
