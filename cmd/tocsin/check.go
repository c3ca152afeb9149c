package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tocsin-alerting/tocsin/notifiers"
)

func newCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate configuration and rule files before they reach a running tocsin",
		Example: `  tocsin check config tocsin.yml
  tocsin check rules rules/*.yml`,
	}
	cmd.AddCommand(newCheckConfigCmd(), newCheckRulesCmd())
	return cmd
}

func newCheckConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "config FILE...",
		Short: "Validate service configuration files",
		Long: `Validate one or more service configuration files. Every problem is printed
on stderr as FILE:LINE:COL: message, not only the first. Exit status is 0
when all files are valid and 1 otherwise. Secret files named by *_file keys
are read, so a missing secret is found here rather than at start-up.

Every message template of every integration is rendered, with the
templates: files, against sample alerts: firing, and resolved where the
integration has send_resolved; a template that cannot render is an error at
its place in the file.

Settings that are valid but can delay or hide a page (a paging route
without group_by, group_wait or group_interval over a minute on a paging
route, repeat_interval shorter than group_interval, a paging receiver with a
single integration) are printed as FILE:LINE:COL: warning: ...; they do not
change the exit status.`,
		Example: `  tocsin check config tocsin.yml
  tocsin check config deploy/*.yml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			failed := false
			for _, f := range files {
				cfg, err := loadConfig(cmd.ErrOrStderr(), f)
				if err != nil {
					failed = true
					continue
				}
				if errs := notifiers.CheckTemplates(cfg); len(errs) > 0 {
					_ = printConfigErrors(cmd.ErrOrStderr(), f, errs)
					failed = true
					continue
				}
				for _, w := range cfg.Warnings() {
					fmt.Fprintln(cmd.ErrOrStderr(), w)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: OK\n", f)
			}
			if failed {
				return &exitError{code: 1}
			}
			return nil
		},
	}
}
