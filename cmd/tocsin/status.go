package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tocsin-alerting/tocsin/internal/api"
)

// maxStatusBytes bounds the answer `tocsin status` reads.
const maxStatusBytes = 32 << 20

func newStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print a running tocsin's overview: probes, alerts and integrations",
		Long: `Ask a running tocsin for its overview (GET /api/v1/status) and print it:
every probe with its state and last result, the alerts that fire, and each
integration's last delivery. For on-call engineers who have only a shell.

The exit status is 0 when all is well, 2 when a probe is down or stale, an
alert fires or an integration fails, and 1 when tocsin cannot be asked.
Give the URL people use to reach tocsin, with its path prefix if it has
one; user:password@ in the URL is sent as basic auth.`,
		Example: `  tocsin status
  tocsin status --url https://ops.example.com/tocsin/`,
		Args: cobra.NoArgs,
	}
	flags := cmd.Flags()
	flags.String("url", "http://localhost:9797", "URL of the running tocsin")
	flags.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	v := bindSettings(flags)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		st, err := fetchStatus(cmd.Context(), v.GetString("url"), v.GetDuration("timeout"))
		if err != nil {
			return err
		}
		printStatus(cmd.OutOrStdout(), st)
		if needsAttention(st.Summary) {
			return &exitError{code: 2}
		}
		return nil
	}
	return cmd
}

// fetchStatus asks tocsin at base for /api/v1/status.
func fetchStatus(ctx context.Context, base string, timeout time.Duration) (api.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := strings.TrimSuffix(base, "/") + "/api/v1/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return api.Status{}, fmt.Errorf("status: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return api.Status{}, fmt.Errorf("status: ask %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string     `json:"status"`
		Data   api.Status `json:"data"`
		Error  string     `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStatusBytes)).Decode(&env); err != nil {
		return api.Status{}, fmt.Errorf("status: %s answered HTTP %d, not tocsin's status: %w", req.URL.Redacted(), resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || env.Status != "success" {
		return api.Status{}, fmt.Errorf("status: %s answered HTTP %d: %s", req.URL.Redacted(), resp.StatusCode, env.Error)
	}
	return env.Data, nil
}

func needsAttention(s api.Summary) bool {
	return s.ProbesDown > 0 || s.ProbesStale > 0 || s.AlertsFiring > 0 || s.IntegrationsDown > 0
}

// printStatus writes the overview as the status page shows it, in columns.
func printStatus(out io.Writer, st api.Status) {
	s := st.Summary
	version := ""
	if st.Version != "" {
		version = " " + st.Version
	}
	fmt.Fprintf(out, "tocsin%s, replica %s, at %s\n", version, st.Replica, st.Now.UTC().Format("2006-01-02 15:04:05 UTC"))
	if needsAttention(s) {
		fmt.Fprintf(out, "ATTENTION: %d of %d probes down, %d stale; %d alerts firing; %d of %d integrations failing\n",
			s.ProbesDown, s.Probes, s.ProbesStale, s.AlertsFiring, s.IntegrationsDown, s.Integrations)
	} else {
		fmt.Fprintf(out, "OK: %d of %d probes up (%d not run yet); no alert firing; %d integrations working\n",
			s.ProbesUp, s.Probes, s.ProbesUnknown, s.Integrations)
	}

	if c := st.Cluster; c != nil {
		names := make([]string, len(c.Members))
		for i, m := range c.Members {
			names[i] = m.Name
		}
		fmt.Fprintf(out, "Cluster: this replica is %s, position %d, gossip %s; %d replicas: %s\n",
			c.Name, c.Position, c.Status, len(c.Members), strings.Join(names, ", "))
	}

	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nPROBE\tSTATE\tKIND\tLAST RUN\tRESULT")
	for _, p := range api.ByAttention(st.Probes) {
		last, result := "not yet", ""
		if p.LastRun != nil {
			last = api.Ago(st.Now.Sub(*p.LastRun))
			result = "ok in " + api.Seconds(p.DurationSeconds)
			if p.Reason != "" {
				result = p.Reason + ": " + p.Detail
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Name, strings.ToUpper(p.State), p.Kind, last, oneLine(result))
	}
	fmt.Fprintln(w, "\nALERT\tSTATE\tSINCE\tPROBE\tSUMMARY")
	if len(st.Alerts) == 0 {
		fmt.Fprintln(w, "(none)\t\t\t\t")
	}
	for _, a := range st.Alerts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Name, strings.ToUpper(a.State), api.Ago(st.Now.Sub(a.ActiveAt)), orDash(a.Labels["probe"]), oneLine(a.Annotations["summary"]))
	}
	fmt.Fprintln(w, "\nINTEGRATION\tSTATE\tRECEIVER\tLAST DELIVERY\tOUTCOME")
	if len(st.Integrations) == 0 {
		fmt.Fprintln(w, "(none: no receiver is configured, nobody is paged)\t\t\t\t")
	}
	for _, in := range st.Integrations {
		state, last := "NOT USED YET", "none yet"
		if in.LastAttempt != nil {
			state, last = "UP", api.Ago(st.Now.Sub(*in.LastAttempt))
		}
		if !in.Up {
			state = "DOWN"
		}
		outcome := orDash(in.Outcome)
		if in.Reason != "" {
			outcome += ": " + in.Reason
		}
		fmt.Fprintf(w, "%s[%d]\t%s\t%s\t%s\t%s\n", in.Integration, in.Index, state, in.Receiver, last, oneLine(outcome))
	}
	_ = w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a cell on one line and of a readable length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return s
}
