package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/promslog"
	"github.com/spf13/cobra"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/internal/server"
	"github.com/tocsin-alerting/tocsin/probes"
)

func newProbeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "probe NAME",
		Short: "Run one configured probe now and print each result",
		Long: `Run the probe NAME from the configuration once (or --count times, at the
probe's interval) and print each result: success, round-trip time and
duration, or the failure reason and what went wrong. Exit status is 0 when
every run succeeded and 1 otherwise.

Webhook round trips and heartbeats are pushed to tocsin over HTTP; with
--web.listen-address the command serves /probe/webhook/NAME and
/api/v1/heartbeats/NAME itself while it runs (stop a running tocsin on that
address first, or use another address the sender can reach).`,
		Example: `  tocsin probe broker-roundtrip
  tocsin probe broker-roundtrip --config.file /etc/tocsin/tocsin.yml --count 5
  tocsin probe broker-to-webhook --web.listen-address :9797`,
		Args: cobra.ExactArgs(1),
	}
	flags := cmd.Flags()
	addConfigFlag(flags)
	flags.Int("count", 1, "how many runs, one per interval")
	flags.String("web.listen-address", "", "serve the webhook and heartbeat endpoints on this address while probing")
	addLogFlags(flags)
	v := bindSettings(flags)

	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		logger, err := newLogger(v, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		file := v.GetString("config.file")
		cfg, err := loadConfig(cmd.ErrOrStderr(), file)
		if err != nil {
			return err
		}
		pc := findProbe(cfg, args[0])
		if pc == nil {
			return fmt.Errorf("%s has no probe named %q", file, args[0])
		}
		count := v.GetInt("count")
		if count < 1 {
			return errors.New("--count must be at least 1")
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()

		ep := probes.NewEndpoints(nil)
		if addr := v.GetString("web.listen-address"); addr != "" {
			shutdown, err := serveEndpoints(addr, ep)
			if err != nil {
				return err
			}
			defer shutdown()
		}
		p, err := probes.New(pc, probes.Options{Replica: cfg.Global.Replica, Logger: logger, Endpoints: ep})
		if err != nil {
			return err
		}
		defer p.Close()
		return runProbe(ctx, cmd.OutOrStdout(), p, count, time.Duration(pc.Interval))
	}
	return cmd
}

func findProbe(cfg *configs.Config, name string) *configs.ProbeConfig {
	for _, p := range cfg.Probes {
		if p != nil && p.Name == name {
			return p
		}
	}
	return nil
}

// runProbe runs p count times, interval apart, printing each result.
func runProbe(ctx context.Context, out io.Writer, p probes.Prober, count int, interval time.Duration) error {
	failed := false
	for i := range count {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(interval):
			}
		}
		r := p.Probe(ctx)
		fmt.Fprintln(out, formatResult(r))
		failed = failed || !r.Success
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

// formatResult is one line per run, for people.
func formatResult(r probes.Result) string {
	line := fmt.Sprintf("%s  %s  %s", r.Time.Format(time.RFC3339), r.Probe, r.Kind)
	if r.Success {
		line += "  ok"
	} else {
		line += "  FAILED reason=" + string(r.Reason)
	}
	if r.RoundTrip > 0 {
		line += "  roundtrip=" + r.RoundTrip.Round(10*time.Microsecond).String()
	}
	line += "  duration=" + r.Duration.Round(10*time.Microsecond).String()
	if r.HTTPStatusCode != 0 {
		line += fmt.Sprintf("  status=%d", r.HTTPStatusCode)
	}
	if !r.CertExpiry.IsZero() {
		line += "  cert_expiry=" + r.CertExpiry.Format(time.RFC3339)
	}
	if !r.LastHeartbeat.IsZero() {
		line += "  last_heartbeat=" + r.LastHeartbeat.Format(time.RFC3339)
	}
	if late := r.Failures[probes.ReasonLate]; late > 0 {
		line += fmt.Sprintf("  late=%d", late)
	}
	if r.Detail != "" {
		line += "  (" + r.Detail + ")"
	}
	return line
}

// serveEndpoints serves the push endpoints on addr until shutdown is
// called, with the same limits and timeouts as `tocsin run`.
func serveEndpoints(addr string, ep *probes.Endpoints) (shutdown func(), err error) {
	srv := server.New(server.Options{
		ListenAddress: addr,
		Logger:        promslog.NewNopLogger(),
		Gatherer:      prometheus.NewRegistry(),
	})
	srv.Handle(probes.WebhookPath, ep.Handler())
	srv.Handle(probes.HeartbeatPath, ep.Handler())
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	return func() {
		cancel()
		<-done
	}, nil
}
