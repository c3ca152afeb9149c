package main

import (
	"fmt"

	"github.com/spf13/cobra"
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
are read, so a missing secret is found here rather than at start-up.`,
		Example: `  tocsin check config tocsin.yml
  tocsin check config deploy/*.yml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			failed := false
			for _, f := range files {
				if _, err := loadConfig(cmd.ErrOrStderr(), f); err != nil {
					failed = true
					continue
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
