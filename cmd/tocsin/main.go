// Command tocsin proves end to end that a message broker still relays
// messages, decides liveness with its own rule engine, and pages through
// several vendors at once.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "tocsin:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a given code after the command has
// already printed what went wrong.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tocsin",
		Short: "Redundant alerting: end-to-end broker probes, local rules, pages through several vendors",
		Long: `tocsin sends synthetic messages through a message broker and measures them,
decides liveness with Prometheus rules over its own local TSDB, and pages
through several vendors at once, so that no single broker, vendor or replica
can fail silently.`,
		Example: `  tocsin run --config.file tocsin.yml
  tocsin check config tocsin.yml
  tocsin version`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newRunCmd(),
		newCheckCmd(),
		newTestCmd(),
		newProbeCmd(),
		newNotifyCmd(),
		newStatusCmd(),
		newVersionCmd(),
	)
	return root
}
