package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
)

// TestConfigPageHidesRemoteWriteSecrets: /config renders remote_write with
// every credential hidden, whichever way it was written.
func TestConfigPageHidesRemoteWriteSecrets(t *testing.T) {
	cfg, err := configs.Load("tocsin.yml", []byte(`global: {replica: r1}
remote_write:
- url: https://u:url-pa55@mimir.example.com/api/v1/push
  headers: {X-Api-Key: header-k3y, X-Scope-OrgID: iot}
  basic_auth: {username: tocsin, password: basic-pa55}
- url: http://thanos/api/v1/receive
  authorization: {credentials: bearer-t0ken}
- url: http://cortex/api/v1/push
  oauth2: {client_id: c, client_secret: oauth-s3cret, token_url: 'http://idp/token'}
`))
	require.NoError(t, err)
	shown := RedactedYAML(cfg)
	for _, secret := range []string{"url-pa55", "header-k3y", "basic-pa55", "bearer-t0ken", "oauth-s3cret"} {
		require.NotContains(t, shown, secret)
	}
	require.Contains(t, shown, "X-Scope-OrgID: iot", "what is not a credential stays readable")
	require.Contains(t, shown, "mimir.example.com/api/v1/push")
}
