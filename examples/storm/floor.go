package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/notifiers/webhook"
)

// The floor is the least any server can do in this storm: it reads each
// POST without decoding it, and group_wait after the first one it sends
// the webhook payloads, encoded before the storm began, all at once. Its
// time is what the storm costs before a server does any work of its own:
// the senders' first request, 100 webhook requests of the payloads' size,
// and the receiver reading them, on the same cores.

const floorCommand = "floor-server"

func floorTarget(self string, s settings) target {
	return target{
		name: "floor",
		bin:  self,
		config: func(hook, _ string) string {
			return hook
		},
		args: func(cfg, _, listen string) []string {
			return []string{floorCommand, "--config", cfg, "--listen", listen,
				"--alerts", strconv.Itoa(s.alerts), "--groups", strconv.Itoa(s.groups)}
		},
	}
}

// runFloor serves the floor until it is stopped.
func runFloor(args []string) error {
	fs := flag.NewFlagSet(floorCommand, flag.ContinueOnError)
	var s settings
	fs.IntVar(&s.alerts, "alerts", 0, "alerts in the storm")
	fs.IntVar(&s.groups, "groups", 0, "groups they fall into")
	cfg := fs.String("config", "", "file holding the webhook's URL")
	listen := fs.String("listen", "", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	hook, err := os.ReadFile(*cfg)
	if err != nil {
		return err
	}
	bodies, err := floorPayloads(s, time.Now())
	if err != nil {
		return err
	}
	var once sync.Once
	send := func() {
		for _, b := range bodies {
			go func() {
				resp, err := http.Post(string(hook), "application/json", bytes.NewReader(b))
				if err != nil {
					fmt.Fprintln(os.Stderr, "floor:", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/-/ready", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/api/v2/alerts", func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { time.AfterFunc(groupWait, send) })
		_, _ = io.Copy(io.Discard, r.Body)
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// floorPayloads encodes one webhook payload per group, with the storm's
// alerts, as tocsin would send them.
func floorPayloads(s settings, now time.Time) ([][]byte, error) {
	msgs := make([]webhook.Message, s.groups)
	for g := range msgs {
		group := model.LabelValue(groupName(g))
		msgs[g] = webhook.Message{
			Version: webhook.Version, GroupKey: `{}:{group="` + string(group) + `"}`, Status: "firing", Receiver: "hook",
			GroupLabels:        model.LabelSet{"group": group},
			CommonLabels:       model.LabelSet{"alertname": "StormAlert", "group": group},
			CommonAnnotations:  model.LabelSet{"summary": "a storm of alerts"},
			NotificationReason: "new_alerts", RouteLabels: model.LabelSet{},
		}
	}
	for i := range s.alerts {
		m := &msgs[i%s.groups]
		labels := model.LabelSet{"alertname": "StormAlert", "group": m.GroupLabels["group"], "instance": model.LabelValue(instanceName(i))}
		m.Alerts = append(m.Alerts, webhook.Alert{
			Status: "firing", Labels: labels, Annotations: model.LabelSet{"summary": "a storm of alerts"},
			StartsAt: now, GeneratorURL: "http://prometheus.example/graph", Fingerprint: labels.Fingerprint().String(),
		})
	}
	bodies := make([][]byte, len(msgs))
	for i := range msgs {
		b, err := json.Marshal(&msgs[i])
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	return bodies, nil
}
