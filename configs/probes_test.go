package configs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestProbeConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // "line:col: message fragment", in file order
	}{
		{
			name: "unknown transport",
			yaml: `probes:
- name: a
  roundtrip:
    send: {kafka: {url: 'tcp://b:1'}}
    expect: {mqtt: {url: 'tcp://b:1883', topic: t}}
`,
			want: []string{`4:11: send needs one of: http, mqtt, nats`, `4:12: unknown key "kafka" in round trip send; valid keys: http, mqtt, nats`},
		},
		{
			name: "both send kinds",
			yaml: `probes:
- name: a
  roundtrip:
    send:
      mqtt: {url: 'tcp://b:1883', topic: t}
      nats: {url: 'nats://b:4222', subject: s}
    expect: {nats: {url: 'nats://b:4222', subject: s}}
`,
			want: []string{`5:7: send takes only one of http, mqtt, nats; found mqtt and nats`},
		},
		{
			name: "neither expect kind",
			yaml: "probes:\n- name: a\n  roundtrip:\n    send: {nats: {url: 'nats://b:4222', subject: s}}\n    expect: {}\n",
			want: []string{`5:13: expect needs one of: mqtt, nats, sse, webhook`},
		},
		{
			name: "timeout not shorter than interval",
			yaml: "probes:\n- name: a\n  interval: 2s\n  timeout: 2s\n  http: {url: 'http://x/'}\n",
			want: []string{`4:12: timeout 2s must be shorter than interval 2s`},
		},
		{
			name: "bad URL",
			yaml: "probes:\n- name: a\n  roundtrip:\n    send: {mqtt: {url: 'http://b', topic: t}}\n    expect: {sse: {url: 'b/events'}}\n",
			want: []string{`4:24: url: URL "http://b" must use tcp or mqtt`, `5:25: url: URL "b/events" must use http or https`},
		},
		{
			name: "missing secret file",
			yaml: "probes:\n- name: a\n  roundtrip:\n    send: {http: {url: 'https://api/x'}}\n    expect: {webhook: {secret_file: /nonexistent/hook}}\n",
			want: []string{`5:37: secret_file: cannot read secret: no such file or directory`},
		},
		{
			name: "mqtt details",
			yaml: `probes:
- name: a
  roundtrip:
    send: {mqtt: {url: 'tcp://b:1883', topic: 'a/+', qos: 3, protocol_version: "4"}}
    expect: {mqtt: {url: 'tcp://b:1883', topic: 'a/#/b', password: x}}
`,
			want: []string{`4:47: topic "a/+": a publish topic must not contain`, `4:59: qos must be 0, 1 or 2`, `4:80: protocol_version "4": must be 3.1.1 or 5`,
				`5:49: topic "a/#/b" is not a valid MQTT topic filter`, `5:68: a password needs a username`},
		},
		{
			name: "http send body without nonce",
			yaml: "probes:\n- name: a\n  roundtrip:\n    send: {http: {url: 'https://api/x', body: 'ping {{.Probe}}'}}\n    expect: {webhook: {}}\n",
			want: []string{`4:47: body: the template must include {{.Nonce}}`},
		},
		{
			name: "http probe options",
			yaml: `probes:
- name: a
  http:
    url: https://x/
    valid_status_codes: [200, 999]
    fail_if_body_matches_regexp: ['(']
    fail_if_ssl: true
    fail_if_not_ssl: true
`,
			want: []string{`5:31: valid_status_codes: 999 is not an HTTP status code`, `6:35: bad regular expression`, `8:22: fail_if_ssl and fail_if_not_ssl together always fail`},
		},
		{
			name: "tcp address and expect",
			yaml: "probes:\n- name: a\n  tcp: {address: broker, expect: '['}\n",
			want: []string{`3:18: address "broker" must be host:port`, `3:34: expect: bad regular expression`},
		},
		{
			name: "tls files",
			yaml: "probes:\n- name: a\n  http: {url: 'https://x/', tls_config: {ca_file: /nonexistent/ca.pem, cert_file: c.pem}}\n",
			want: []string{`3:51: ca_file: no such file or directory`, `3:83: cert_file and key_file go together`},
		},
		{
			name: "heartbeat needs a token",
			yaml: "probes:\n- name: hb\n  heartbeat: {grace: 1m}\n",
			want: []string{`3:14: token or token_file is required`},
		},
		{
			name: "reserved label",
			yaml: "probes:\n- name: a\n  labels: {replica: x}\n  http: {url: 'http://x/'}\n",
			want: []string{`3:11: labels: "replica" is set by tocsin`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("tocsin.yml", []byte(tc.yaml))
			require.Error(t, err)
			errs := AsErrors("tocsin.yml", err)
			require.Len(t, errs, len(tc.want), "errors: %v", err)
			for i, want := range tc.want {
				require.Contains(t, errs[i].Error(), "tocsin.yml:"+want)
			}
		})
	}
}

func TestProbeConfigDefaultsAndFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "hook", "hmac-key\n")
	certPEM, keyPEM := selfSigned(t)
	writeFile(t, dir, "ca.pem", string(certPEM))
	writeFile(t, dir, "key.pem", string(keyPEM))
	path := writeFile(t, dir, "tocsin.yml", `
global: {replica: r1}
probes:
- name: rt
  roundtrip:
    send:
      mqtt:
        url: mqtts://broker:8883
        topic: canary/ping
        protocol_version: 5
        tls_config: {ca_file: ca.pem, cert_file: ca.pem, key_file: key.pem}
    expect: {webhook: {secret_file: hook}}
- name: api
  roundtrip:
    send: {http: {url: 'https://api/x', body: '{"n":"{{.Nonce}}"}'}}
    expect: {sse: {url: 'https://api/events', bearer_token: t}}
- name: page
  http: {url: 'https://x/'}
`)
	cfg, err := LoadFile(path)
	require.NoError(t, err)
	rt := cfg.Probes[0].RoundTrip
	require.Equal(t, MQTTv5, rt.Send.MQTT.ProtocolVersion)
	require.Equal(t, filepath.Join(dir, "ca.pem"), rt.Send.MQTT.TLS.CAFile)
	require.Equal(t, "hmac-key", string(rt.Expect.Webhook.Secret))
	require.Equal(t, DefaultWebhookSignatureHeader, rt.Expect.Webhook.SignatureHeader)
	require.Equal(t, "POST", cfg.Probes[1].RoundTrip.Send.HTTP.Method)
	require.Equal(t, "GET", cfg.Probes[2].HTTP.Method)
	require.NotContains(t, cfg.String(), "hmac-key")
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"broker"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
