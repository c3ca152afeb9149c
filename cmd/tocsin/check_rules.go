package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tocsin-alerting/tocsin/rules"
)

func newCheckRulesCmd() *cobra.Command {
	var (
		lint          string
		lintFatal     bool
		format        string
		ignoreUnknown bool
	)
	cmd := &cobra.Command{
		Use:   "rules [FILE...]",
		Short: "Validate Prometheus rule files as promtool check rules does",
		Long: `Validate rule files in Prometheus format: strict YAML (unknown and repeated
keys), PromQL, label and annotation templates, label, metric and group names,
durations, and - as lint - duplicate rules. With no FILE the rules are read
from standard input.

Every problem is printed as FILE:LINE:COL: message. --format=github prints
GitHub Actions annotations instead, so problems show on the pull request's
diff, and --format=json one JSON array of {file, line, column, severity,
message}.

Exit status: 0 when every file is valid, 1 when any file has an error, 3 when
only lint problems were found and --lint-fatal is set.`,
		Example: `  tocsin check rules configs/rules/*.yml
  tocsin check rules --lint-fatal --format=github rules/*.yml
  cat rules.yml | tocsin check rules`,
		RunE: func(cmd *cobra.Command, files []string) error {
			opts := rules.CheckOptions{IgnoreUnknownFields: ignoreUnknown}
			for _, l := range strings.Split(lint, ",") {
				switch strings.TrimSpace(l) {
				case "all", "duplicate-rules":
					opts.LintDuplicates = true
				case "none", "":
				default:
					return fmt.Errorf("unknown --lint option %q (want all, duplicate-rules or none)", l)
				}
			}
			switch format {
			case rules.FormatText, rules.FormatGitHub, rules.FormatJSON:
			default:
				return fmt.Errorf("unknown --format %q (want text, github or json)", format)
			}
			results, err := checkRuleInputs(cmd.InOrStdin(), files, opts)
			if err != nil {
				return err
			}
			return reportRuleChecks(cmd.OutOrStdout(), cmd.ErrOrStderr(), format, lintFatal, results)
		},
	}
	f := cmd.Flags()
	f.StringVar(&lint, "lint", "duplicate-rules", "lint checks to apply: all, duplicate-rules or none")
	f.BoolVar(&lintFatal, "lint-fatal", false, "exit with status 3 when lint problems are found")
	f.StringVar(&format, "format", rules.FormatText, "output format: text, github or json")
	f.BoolVar(&ignoreUnknown, "ignore-unknown-fields", false, "accept keys Prometheus does not know")
	return cmd
}

// checkRuleInputs checks the files, or standard input when there are none.
func checkRuleInputs(stdin io.Reader, files []string, opts rules.CheckOptions) ([]rules.FileResult, error) {
	if len(files) == 0 {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return []rules.FileResult{rules.Check("<stdin>", b, opts)}, nil
	}
	results := make([]rules.FileResult, 0, len(files))
	for _, file := range files {
		results = append(results, rules.CheckFile(file, opts))
	}
	return results, nil
}

// reportRuleChecks prints the results and returns the exit status.
func reportRuleChecks(stdout, stderr io.Writer, format string, lintFatal bool, results []rules.FileResult) error {
	var all rules.Diagnostics
	for _, r := range results {
		all = append(all, r.Diagnostics...)
	}
	switch format {
	case rules.FormatText:
		if err := rules.WriteDiagnostics(stderr, format, all, lintFatal); err != nil {
			return err
		}
		for _, r := range results {
			if !r.Diagnostics.HasErrors() {
				fmt.Fprintf(stdout, "%s: SUCCESS: %d rules found\n", r.File, r.Rules)
			}
		}
	default:
		if err := rules.WriteDiagnostics(stdout, format, all, lintFatal); err != nil {
			return err
		}
	}
	switch {
	case all.HasErrors():
		return &exitError{code: 1}
	case len(all) > 0 && lintFatal:
		return &exitError{code: 3}
	}
	return nil
}
