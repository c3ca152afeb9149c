// Command pagelog is the webhook receiver of the benchmark scripts: it
// takes Alertmanager-format webhook notifications and writes one line per
// alert of each to a file:
//
//	<arrival, Unix seconds> <notification status> <alert status> <alertname> <probe> <startsAt, Unix seconds>
//
// The arrival is taken as the request's handler starts, before the body is
// read, so that what the scripts report as tocsin's part of a page does not
// include the receiver's own work. It answers 200 to every POST.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

type notification struct {
	Status string `json:"status"`
	Alerts []struct {
		Status   string            `json:"status"`
		Labels   map[string]string `json:"labels"`
		StartsAt time.Time         `json:"startsAt"`
	} `json:"alerts"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	out := flag.String("out", "pages.log", "file the lines are appended to")
	flag.Parse()
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		arrival := time.Now()
		var n notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var b strings.Builder
		for _, a := range n.Alerts {
			fmt.Fprintf(&b, "%.3f %s %s %s %s %.3f\n", unix(arrival), n.Status, a.Status,
				orDash(a.Labels["alertname"]), orDash(a.Labels["probe"]), unix(a.StartsAt))
		}
		mu.Lock()
		_, err := f.WriteString(b.String())
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
