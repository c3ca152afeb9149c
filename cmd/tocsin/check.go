package main

import (
	"fmt"
	"io"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/spf13/cobra"

	"github.com/tocsin-alerting/tocsin/configs"
	"github.com/tocsin-alerting/tocsin/notifiers"
	"github.com/tocsin-alerting/tocsin/rules"
)

func newCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate configuration and rule files before they reach a running tocsin",
		Example: `  tocsin check config tocsin.yml
  tocsin check rules rules/*.yml
  tocsin check web-config web.yml`,
	}
	cmd.AddCommand(newCheckConfigCmd(), newCheckRulesCmd(), newCheckWebConfigCmd())
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

The rule files the config names in rule_files are checked as well, as
tocsin check rules does, with their own FILE:LINE:COL; a rule_files pattern
that matches no file is printed as a warning and does not change the exit
status.

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
			return checkEach(cmd, files, func(f string) bool {
				cfg, err := loadConfig(cmd.ErrOrStderr(), f)
				if err != nil {
					return false
				}
				rulesOK := checkConfigRuleFiles(cmd.ErrOrStderr(), cfg)
				return checkConfigNotify(cmd.ErrOrStderr(), cfg) && rulesOK
			})
		},
	}
}

// checkConfigRuleFiles checks the rule files cfg names, as `tocsin check
// rules` does, so that a config whose rules would stop `tocsin run` is
// refused here. Patterns that match nothing are warned about. It reports
// whether every rule file is valid.
func checkConfigRuleFiles(w io.Writer, cfg *configs.Config) bool {
	for _, warning := range cfg.RuleFileWarnings() {
		fmt.Fprintln(w, warning)
	}
	paths, err := cfg.RuleFilePaths()
	if err != nil {
		fmt.Fprintf(w, "%s: %v\n", cfg.File, err)
		return false
	}
	diags := rules.CheckFiles(paths, rules.CheckOptions{})
	if err := rules.WriteDiagnostics(w, rules.FormatText, diags, false); err != nil {
		fmt.Fprintf(w, "%s: %v\n", cfg.File, err)
		return false
	}
	return !diags.HasErrors()
}

// checkConfigNotify renders every message template of cfg against sample
// alerts and prints the paging traps it finds. It reports whether every
// template renders; the traps are warnings only.
func checkConfigNotify(w io.Writer, cfg *configs.Config) bool {
	errs := notifiers.CheckTemplates(cfg)
	for _, e := range errs {
		fmt.Fprintln(w, e)
	}
	for _, warning := range cfg.Warnings() {
		fmt.Fprintln(w, warning)
	}
	return len(errs) == 0
}

func newCheckWebConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "web-config FILE...",
		Short: "Validate web configuration files for --web.config.file",
		Long: `Validate web configuration files (TLS, client certificates, basic auth) as
tocsin run --web.config.file reads them and as promtool check web-config
does: the YAML, the certificate and key files, and that every basic auth
password is a bcrypt hash. Exit status is 0 when all files are valid and
1 otherwise.`,
		Example: `  tocsin check web-config web.yml`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			return checkEach(cmd, files, func(f string) bool {
				if err := web.Validate(f); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", f, err)
					return false
				}
				return true
			})
		},
	}
}

// checkEach runs check on every file, which prints its own problems, and
// prints FILE: OK for each that passes. Exit status 1 when any failed.
func checkEach(cmd *cobra.Command, files []string, check func(file string) bool) error {
	failed := false
	for _, f := range files {
		if !check(f) {
			failed = true
			continue
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: OK\n", f)
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}
