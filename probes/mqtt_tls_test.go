package probes

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/probes/probetest"
)

// mqttTLSTimeout is the timeout of the TLS probes; failures must come well
// before it is over twice (generous for slow CI).
const mqttTLSTimeout = 2 * time.Second

// loadMQTTTLSProbe loads a config file holding one MQTT round-trip probe
// whose send and expect both use url and tlsConfig (a YAML flow mapping),
// written into dir so that relative paths resolve against it.
func loadMQTTTLSProbe(t *testing.T, dir, url, version, tlsConfig string) *configs.ProbeConfig {
	t.Helper()
	transport := fmt.Sprintf("{url: '%s', topic: canary/tls, qos: 1, protocol_version: '%s', tls_config: %s}", url, version, tlsConfig)
	yaml := fmt.Sprintf("global: {replica: %s}\nprobes:\n- name: tls-roundtrip\n  interval: 10s\n  timeout: %s\n  roundtrip:\n    send: {mqtt: %s}\n    expect: {mqtt: %s}\n",
		testReplica, mqttTLSTimeout, transport, transport)
	file := filepath.Join(dir, "tocsin.yml")
	require.NoError(t, os.WriteFile(file, []byte(yaml), 0o600))
	cfg, err := configs.Load(file, []byte(yaml))
	require.NoError(t, err)
	require.Len(t, cfg.Probes, 1)
	return cfg.Probes[0]
}

func TestMQTTTLSRoundTrip(t *testing.T) {
	t.Parallel()
	pki := probetest.NewPKI(t)
	broker := probetest.StartMQTTTLS(t, pki)
	for _, version := range []string{configs.MQTTv311, configs.MQTTv5} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			// Relative paths, as users write them next to their config.
			cfg := loadMQTTTLSProbe(t, filepath.Dir(pki.CAFile), broker.URL, version,
				"{ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}")
			p, err := New(cfg, Options{Replica: testReplica})
			require.NoError(t, err)
			defer p.Close()
			for range 2 { // the connection is kept between runs
				r := p.Probe(t.Context())
				require.True(t, r.Success, "reason %s: %s", r.Reason, r.Detail)
				require.Positive(t, r.RoundTrip)
			}
		})
	}
}

func TestMQTTTLSFailures(t *testing.T) {
	t.Parallel()
	pki := probetest.NewPKI(t)
	other := probetest.NewPKI(t) // a CA the broker and the probe do not share
	broker := probetest.StartMQTTTLS(t, pki)
	tests := []struct {
		name      string
		tlsConfig string
		// reasons are the acceptable ones: when the broker refuses the
		// client's certificate after a TLS 1.3 handshake, the client may
		// read the broker's alert (tls) or find the connection already
		// reset (connect), depending on timing.
		reasons []Reason
	}{
		{
			name:      "server not trusted",
			tlsConfig: fmt.Sprintf("{ca_file: '%s', cert_file: '%s', key_file: '%s'}", other.CAFile, pki.CertFile, pki.KeyFile),
			reasons:   []Reason{ReasonTLS},
		},
		{
			name:      "no client certificate",
			tlsConfig: fmt.Sprintf("{ca_file: '%s'}", pki.CAFile),
			reasons:   []Reason{ReasonTLS, ReasonConnect},
		},
		{
			name:      "client certificate from another CA",
			tlsConfig: fmt.Sprintf("{ca_file: '%s', cert_file: '%s', key_file: '%s'}", pki.CAFile, other.CertFile, other.KeyFile),
			reasons:   []Reason{ReasonTLS, ReasonConnect},
		},
		{
			name:      "server name does not match",
			tlsConfig: fmt.Sprintf("{ca_file: '%s', cert_file: '%s', key_file: '%s', server_name: broker.example}", pki.CAFile, pki.CertFile, pki.KeyFile),
			reasons:   []Reason{ReasonTLS},
		},
	}
	for _, tc := range tests {
		for _, version := range []string{configs.MQTTv311, configs.MQTTv5} {
			t.Run(tc.name+" v"+version, func(t *testing.T) {
				t.Parallel()
				cfg := loadMQTTTLSProbe(t, t.TempDir(), broker.URL, version, tc.tlsConfig)
				r := runOnce(t, cfg)
				require.False(t, r.Success)
				require.Contains(t, tc.reasons, r.Reason, r.Detail)
				require.Less(t, r.Duration, 2*mqttTLSTimeout)
				require.Equal(t, uint64(1), r.Failures[r.Reason])
				t.Logf("%s: %s", r.Reason, r.Detail)
			})
		}
	}
}

// A plain MQTT client on the TLS port gets nowhere; the run fails rather
// than hangs.
func TestMQTTPlainToTLSBroker(t *testing.T) {
	t.Parallel()
	pki := probetest.NewPKI(t)
	broker := probetest.StartMQTTTLS(t, pki)
	plain := "tcp://" + broker.URL[len("tls://"):]
	for _, version := range []string{configs.MQTTv311, configs.MQTTv5} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			cfg := probeConfig("rt", 500*time.Millisecond, mqttRoundTrip(plain, version, 1, "canary/tls"))
			r := runOnce(t, cfg)
			require.False(t, r.Success)
			require.Equal(t, ReasonConnect, r.Reason, r.Detail)
		})
	}
}

// TLS settings that cannot work are refused when the config is loaded, at
// the place they were written.
func TestMQTTTLSConfigErrors(t *testing.T) {
	t.Parallel()
	pki := probetest.NewPKI(t)
	tests := []struct {
		name string
		send string // the send transport; expect is a valid TLS one
		want string // "line:col: message"
	}{
		{
			name: "missing CA file",
			send: "{url: 'mqtts://127.0.0.1:8883', topic: t, tls_config: {ca_file: missing-ca.pem}}",
			want: "5:82: ca_file: no such file or directory",
		},
		{
			name: "CA file without a certificate",
			send: fmt.Sprintf("{url: 'mqtts://127.0.0.1:8883', topic: t, tls_config: {ca_file: '%s'}}", pki.KeyFile),
			want: fmt.Sprintf("5:82: ca_file: no PEM certificate found in %s", pki.KeyFile),
		},
		{
			name: "certificate without its key",
			send: fmt.Sprintf("{url: 'mqtts://127.0.0.1:8883', topic: t, tls_config: {cert_file: '%s'}}", pki.CertFile),
			want: "5:84: cert_file and key_file go together",
		},
		{
			name: "tls_config on a plain URL",
			send: fmt.Sprintf("{url: 'tcp://127.0.0.1:8883', topic: t, tls_config: {ca_file: '%s'}}", pki.CAFile),
			want: "5:70: tls_config needs a TLS URL (ssl, tls, mqtts, wss); tcp:// connects without TLS",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			file := filepath.Join(dir, "tocsin.yml")
			yaml := fmt.Sprintf("global: {replica: %s}\nprobes:\n- name: tls-roundtrip\n  roundtrip:\n    send: {mqtt: %s}\n    expect: {mqtt: {url: 'mqtts://127.0.0.1:8883', topic: t, tls_config: {ca_file: '%s'}}}\n",
				testReplica, tc.send, pki.CAFile)
			_, err := configs.Load(file, []byte(yaml))
			require.EqualError(t, err, file+":"+tc.want)
		})
	}
}
