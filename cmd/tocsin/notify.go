package main

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/notifiers/integrations"
)

func newNotifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Work with the configured receivers",
		Example: `  tocsin notify test --receiver oncall
  tocsin notify test --receiver oncall --config.file /etc/tocsin/tocsin.yml`,
	}
	cmd.AddCommand(newNotifyTestCmd())
	return cmd
}

func newNotifyTestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test --receiver NAME",
		Short: "Send a test page through every integration of a receiver",
		Long: `Send a clearly marked test page through every integration of the receiver
NAME at once, whatever its strategy, and print each integration's outcome:
accepted, or the vendor's reason for refusing. Retries follow the same rules
as a running tocsin (Retry-After, backoff on 5xx and network errors) until
--timeout. Each run opens a new incident in vendors that deduplicate, so an
earlier test never hides this one. Exit status is 0 when every integration
accepted and 1 otherwise.`,
		Example: `  tocsin notify test --receiver oncall
  tocsin notify test --receiver chat --timeout 10s`,
		Args: cobra.NoArgs,
	}
	flags := cmd.Flags()
	addConfigFlag(flags)
	flags.String("receiver", "", "name of the receiver to test (required)")
	flags.Duration("timeout", 30*time.Second, "give up on integrations that have not accepted by then")
	flags.String("web.external-url", "", "tocsin's own address, linked from the test page")
	addLogFlags(flags)
	v := bindSettings(flags)

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		logger, err := newLogger(v, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		name := v.GetString("receiver")
		if name == "" {
			return errors.New("--receiver is required")
		}
		file := v.GetString("config.file")
		cfg, err := loadConfig(cmd.ErrOrStderr(), file)
		if err != nil {
			return err
		}
		var rc *configs.ReceiverConfig
		var names []string
		for _, r := range cfg.Receivers {
			names = append(names, r.Name)
			if r.Name == name {
				rc = r
			}
		}
		if rc == nil {
			return fmt.Errorf("%s has no receiver named %q; receivers: %v", file, name, names)
		}
		externalURL := v.GetString("web.external-url")
		templates, err := notifiers.TemplatesFromConfig(cfg, logger)
		if err != nil {
			return err
		}
		recv, err := integrations.Build(rc, integrations.Options{Logger: logger, ExternalURL: externalURL, Templates: templates})
		if err != nil {
			return fmt.Errorf("receiver %q: %w", name, err)
		}
		if len(recv.Integrations) == 0 {
			return fmt.Errorf("receiver %q has no integrations to test", name)
		}

		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(ctx, v.GetDuration("timeout"))
		defer cancel()
		n := notifiers.TestNotification(name, time.Now(), externalURL)
		fmt.Fprintf(cmd.OutOrStdout(), "sending a test page through %s of receiver %q (dedup key %s)\n", plural(len(recv.Integrations), "integration"), name, n.DedupKey)
		results := notifiers.SendToAll(ctx, recv, n, notifiers.Options{Logger: logger, ExternalURL: externalURL, MaxDeliveryTime: v.GetDuration("timeout")})
		failed := 0
		for _, r := range results {
			if r.Accepted {
				fmt.Fprintf(cmd.OutOrStdout(), "%-14s accepted  (%s, %s)\n", r.Integration, plural(r.Attempts, "attempt"), r.Latency.Round(time.Millisecond))
				continue
			}
			failed++
			fmt.Fprintf(cmd.OutOrStdout(), "%-14s %-9s (%s): %v\n", r.Integration, r.Outcome, plural(r.Attempts, "attempt"), r.Err)
		}
		if failed > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "%d of %d integrations did not accept the test page\n", failed, len(results))
			return &exitError{code: 1}
		}
		return nil
	}
	return cmd
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
