package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/spf13/cobra"

	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/internal/server"
	"github.com/tocsin-alerting/tocsin/probes"
)

func newRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run probes, rules and notifiers until stopped",
		Long: `Run tocsin: probe the configured targets, evaluate rules over the local
TSDB and page through the configured receivers. SIGHUP or POST /-/reload
re-reads the configuration; a bad file is logged and the running
configuration stays in force. SIGTERM or SIGINT stops tocsin gracefully.

Every flag can also be set through the environment: --web.listen-address
is TOCSIN_WEB_LISTEN_ADDRESS, --config.file is TOCSIN_CONFIG_FILE.`,
		Example: `  tocsin run --config.file /etc/tocsin/tocsin.yml
  TOCSIN_LOG_FORMAT=json tocsin run --web.listen-address 127.0.0.1:9797`,
		Args: cobra.NoArgs,
	}
	flags := cmd.Flags()
	addConfigFlag(flags)
	flags.String("web.listen-address", ":9797", "address to serve metrics, health, reload, webhooks and heartbeats on")
	flags.String("storage.path", "", "directory of the local TSDB (default: storage.path from the config, else data/)")
	flags.String("web.external-url", "", "URL under which people reach tocsin; pages link to it (default: http://<host name>:<port>)")
	addLogFlags(flags)
	addClusterFlags(flags)
	v := bindSettings(flags)

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		logger, err := newLogger(v, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()

		reg := prometheus.NewRegistry()
		reg.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			versioncollector.NewCollector("tocsin"),
		)
		listen := v.GetString("web.listen-address")
		var peer *cluster.Settings
		if cs := clusterSettings(v); cs.ListenAddress != "" {
			peer = &cs
		}
		p := pipeline.New(pipeline.Settings{
			StoragePath: v.GetString("storage.path"),
			ExternalURL: externalURL(v.GetString("web.external-url"), listen),
			Registerer:  reg,
			Cluster:     peer,
		}, logger)
		reloader := pipeline.NewReloader(v.GetString("config.file"), p.Apply, logger, reg)
		logger.Info("starting tocsin", "version", version.Info(), "build", version.BuildContext())
		if err := reloader.Reload(ctx); err != nil {
			return printConfigErrors(cmd.ErrOrStderr(), v.GetString("config.file"), err)
		}

		srv := server.New(server.Options{
			ListenAddress: listen,
			Logger:        logger,
			Gatherer:      reg,
			Reload:        reloader.Reload,
			Ready:         p.Ready,
		})
		srv.Handle(probes.WebhookPath, p.Handler())
		srv.Handle(probes.HeartbeatPath, p.Handler())
		if err := srv.Listen(); err != nil {
			return err
		}
		go reloadOnSIGHUP(ctx, reloader)
		pipelineDone := make(chan error, 1)
		go func() { pipelineDone <- p.Run(ctx) }()
		err = srv.Serve(ctx)
		stop()
		if perr := <-pipelineDone; perr != nil && err == nil {
			err = perr
		}
		logger.Info("tocsin stopped")
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
	return cmd
}

// externalURL is the configured URL, or one made of the host name and the
// listen port.
func externalURL(configured, listen string) string {
	if configured != "" {
		return strings.TrimRight(configured, "/")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// reloadOnSIGHUP reloads the configuration on every SIGHUP until ctx ends.
// Errors are logged and counted by the reloader itself.
func reloadOnSIGHUP(ctx context.Context, r *pipeline.Reloader) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			_ = r.Reload(ctx)
		}
	}
}
