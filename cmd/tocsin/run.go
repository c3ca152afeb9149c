package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/spf13/cobra"

	"github.com/tocsin-alerting/tocsin/internal/amapi"
	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/internal/pipeline"
	"github.com/tocsin-alerting/tocsin/internal/server"
	"github.com/tocsin-alerting/tocsin/internal/silences"
	"github.com/tocsin-alerting/tocsin/internal/ui"
	"github.com/tocsin-alerting/tocsin/notifiers"
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
POST /-/reload and POST /-/quit are served only with --web.enable-lifecycle.

--web.config.file takes the web configuration file every Prometheus
server reads: TLS, client certificates and basic auth with bcrypt hashes.
Its authentication covers every endpoint, heartbeats and webhooks included.

Every flag can also be set through the environment: --web.listen-address
is TOCSIN_WEB_LISTEN_ADDRESS, --config.file is TOCSIN_CONFIG_FILE.

The garbage collector runs with GOGC=50 unless GOGC is set; GOMEMLIMIT
works as in any Go program.`,
		Example: `  tocsin run --config.file /etc/tocsin/tocsin.yml
  TOCSIN_LOG_FORMAT=json tocsin run --web.listen-address 127.0.0.1:9797`,
		Args: cobra.NoArgs,
	}
	flags := cmd.Flags()
	addConfigFlag(flags)
	flags.String("web.listen-address", ":9797", "address to serve metrics, health, reload, webhooks and heartbeats on (every interface by default, so that heartbeats and webhooks from other hosts arrive)")
	flags.String("storage.path", "", "directory of the local TSDB (default: storage.path from the config, else data/)")
	flags.String("web.external-url", "", "URL under which people reach tocsin, e.g. behind a reverse proxy; pages and notifications link to it (default: http://<host name>:<port>)")
	flags.String("web.route-prefix", "", "path prefix every endpoint is served under (default: the path of --web.external-url)")
	flags.String("web.config.file", "", "web configuration file (TLS, client certificates, basic auth), in the Prometheus exporter-toolkit format")
	flags.Bool("web.enable-lifecycle", false, "serve POST /-/reload and POST /-/quit")
	addLogFlags(flags)
	addClusterFlags(flags)
	v := bindSettings(flags)

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		setGCPolicy()
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
		sils := silences.New(silences.Options{Logger: logger.With("component", "silences"), Registerer: reg})
		var peer *cluster.Settings
		if cs := clusterSettings(v); cs.ListenAddress != "" {
			peer = &cs
		}
		extURL, err := externalURL(v.GetString("web.external-url"), listen)
		if err != nil {
			return err
		}
		p := pipeline.New(pipeline.Settings{
			StoragePath: v.GetString("storage.path"),
			ExternalURL: extURL.String(),
			Registerer:  reg,
			Dispatcher:  notifiers.Options{Silences: sils},
			Cluster:     peer,
		}, logger)
		reloader := pipeline.NewReloader(v.GetString("config.file"), p.Apply, logger, reg)
		logger.Info("starting tocsin", "version", version.Info(), "build", version.BuildContext())
		if err := reloader.Reload(ctx); err != nil {
			return printConfigErrors(cmd.ErrOrStderr(), v.GetString("config.file"), err)
		}

		srv := server.New(server.Options{
			ListenAddress:   listen,
			WebConfigFile:   v.GetString("web.config.file"),
			RoutePrefix:     routePrefix(v.GetString("web.route-prefix"), extURL),
			EnableLifecycle: v.GetBool("web.enable-lifecycle"),
			Logger:          logger,
			Gatherer:        reg,
			Reload:          reloader.Reload,
			Quit:            stop,
			Ready:           p.Ready,
		})
		srv.Handle(probes.WebhookPath, p.Handler())
		srv.Handle(probes.HeartbeatPath, p.Handler())
		// Links in pages start with the external URL's path; the server
		// itself strips the route prefix before the pages see a request.
		pages, err := ui.New(ui.Options{Source: p, Silences: sils, ExternalURL: extURL.String(), Logger: logger})
		if err != nil {
			return err
		}
		pages.Mount(srv, "")
		if err := sils.Open(p.Config().Storage.Path); err != nil {
			return err
		}
		go func() { _ = sils.Run(ctx) }()
		apiOpts := amapi.Options{Alerts: p, Silences: sils, Config: p.Config, Started: time.Now(), Logger: logger}
		if peer := p.Peer(); peer != nil {
			sils.Replicate(peer.Replicate)
			apiOpts.Peer = peer
		}
		srv.Handle(amapi.Prefix, amapi.New(apiOpts))
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
// listen port, as Prometheus computes it; its path never ends in a slash.
func externalURL(configured, listen string) (*url.URL, error) {
	if configured == "" {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("--web.listen-address %q: %w", listen, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			if h, err := os.Hostname(); err == nil {
				host = h
			}
		}
		configured = "http://" + net.JoinHostPort(host, port)
	}
	u, err := url.Parse(configured)
	if err != nil {
		return nil, fmt.Errorf("--web.external-url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--web.external-url %q: must be an absolute http or https URL", configured)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// routePrefix is the configured prefix, or else the external URL's path,
// so that tocsin behind a proxy at https://ops.example/tocsin/ serves
// under /tocsin without a second flag.
func routePrefix(configured string, ext *url.URL) string {
	if configured == "" {
		configured = ext.Path
	}
	return "/" + strings.Trim(configured, "/")
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
