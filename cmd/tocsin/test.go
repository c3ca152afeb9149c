package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"regexp"

	"github.com/tocsin-alerting/tocsin/rules"
)

func newTestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "test",
		Short:   "Run unit tests",
		Example: `  tocsin test rules configs/rules/liveness_test.yml`,
	}
	cmd.AddCommand(newTestRulesCmd())
	return cmd
}

func newTestRulesCmd() *cobra.Command {
	var (
		run           []string
		junitFile     string
		ignoreUnknown bool
	)
	cmd := &cobra.Command{
		Use:   "rules TESTFILE...",
		Short: "Unit-test rule files as promtool test rules does",
		Long: `Run rule unit tests written in promtool's test file format: rule_files,
evaluation_interval, group_eval_order, and tests with input_series (in the
expanding notation, e.g. '1+1x10' or '0 _ stale'), alert_rule_test,
promql_expr_test, external_labels, external_url and start_timestamp. The
results are promtool's; failures show what was expected, what was got and a
line diff (- expected, + got).

Exit status: 0 when every test passes, 1 otherwise.`,
		Example: `  tocsin test rules configs/rules/liveness_test.yml
  tocsin test rules --run 'ProbeFailing' --junit report.xml tests/*.yml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			opts := rules.TestOptions{IgnoreUnknownFields: ignoreUnknown}
			if len(run) > 0 {
				re, err := regexp.Compile(strings.Join(run, "|"))
				if err != nil {
					return fmt.Errorf("--run: %w", err)
				}
				opts.Run = re
			}
			if junitFile != "" {
				f, err := os.Create(junitFile)
				if err != nil {
					return fmt.Errorf("--junit: %w", err)
				}
				defer f.Close()
				opts.JUnit = f
			}
			ok, err := rules.RunTestFiles(cmd.OutOrStdout(), opts, files...)
			if err != nil {
				return err
			}
			if !ok {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&run, "run", nil, "run only test groups whose name matches this regular expression (repeatable; any may match)")
	f.StringVar(&junitFile, "junit", "", "write a JUnit XML report to this file")
	f.BoolVar(&ignoreUnknown, "ignore-unknown-fields", false, "accept keys the test file format does not know")
	return cmd
}
