package devicecloud

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// EventTopicFilter is the MQTT topic filter the relay forwards: a device
// publishes on devices/<device id>/events/<event name>.
const EventTopicFilter = "devices/+/events/#"

// Event is what the relay makes of one device publish, in the shape a device
// cloud's webhook integration and event stream use: the device's payload is
// carried as a string inside the relay's own fields.
type Event struct {
	// Name is the event name: the topic after devices/<id>/events/.
	Name string `json:"event"`
	// Data is the device's payload, unchanged, as a string.
	Data string `json:"data"`
	// CoreID is the publishing device's id, taken from the topic.
	CoreID string `json:"coreid"`
	// PublishedAt is when the relay received the event (Config.Now).
	PublishedAt time.Time `json:"published_at"`
	// TTL is always 60, as device clouds report it.
	TTL int `json:"ttl"`
}

// relay forwards device events to webhooks and event-stream listeners.
type relay struct {
	log    *slog.Logger
	now    func() time.Time
	client *http.Client

	ctx    context.Context // cancelled by close; ends workers and streams
	cancel context.CancelFunc
	wg     sync.WaitGroup

	webhooksBroken atomic.Bool

	mu       sync.Mutex
	closed   bool
	webhooks []chan Event
	streams  map[chan Event]struct{}
}

func newRelay(log *slog.Logger, now func() time.Time) *relay {
	ctx, cancel := context.WithCancel(context.Background())
	return &relay{
		log:     log,
		now:     now,
		client:  &http.Client{Timeout: 5 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		ctx:     ctx,
		cancel:  cancel,
		streams: map[chan Event]struct{}{},
	}
}

// onPublish is the broker's inline subscription handler. It runs on the
// publisher's goroutine, so it only hands the event on and never blocks.
func (r *relay) onPublish(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	parts := strings.SplitN(pk.TopicName, "/", 4) // devices, id, events, name
	if len(parts) < 4 {
		return
	}
	ev := Event{Name: parts[3], Data: string(pk.Payload), CoreID: parts[1], PublishedAt: r.now().UTC(), TTL: 60}

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.webhooks {
		select {
		case q <- ev:
		default:
			r.log.Warn("webhook queue full, event dropped", "event", ev.Name, "device", ev.CoreID)
		}
	}
	for s := range r.streams {
		select {
		case s <- ev:
		default:
			r.log.Warn("event stream too slow, event dropped", "event", ev.Name, "device", ev.CoreID)
		}
	}
}

// addWebhook starts a delivery worker for one more webhook target. Each
// target has its own queue so a slow one cannot hold up the others.
func (r *relay) addWebhook(target string) {
	q := make(chan Event, 256)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	idx := len(r.webhooks)
	r.webhooks = append(r.webhooks, q)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			select {
			case <-r.ctx.Done():
				return
			case ev := <-q:
				// The URL may carry a token, so logs name the webhook by index.
				if err := r.post(target, ev); err != nil {
					r.log.Warn("webhook delivery failed", "webhook", idx, "event", ev.Name, "err", err)
				}
			}
		}
	}()
}

func (r *relay) post(target string, ev Event) error {
	if r.webhooksBroken.Load() {
		return fmt.Errorf("webhook integration is broken")
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(r.ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", redact(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post: status %d", resp.StatusCode)
	}
	return nil
}

// redact drops the URL from net/http errors, since webhook URLs may embed tokens.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// serveEvents streams every relayed event as Server-Sent Events until the
// client goes away or the relay closes.
func (r *relay) serveEvents(w http.ResponseWriter, req *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	s := make(chan Event, 256)
	r.mu.Lock()
	r.streams[s] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.streams, s)
		r.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// The opening comment tells a client the stream is subscribed.
	_, _ = fmt.Fprint(w, ":ok\n\n")
	flusher.Flush()
	for {
		select {
		case <-req.Context().Done():
			return
		case <-r.ctx.Done():
			return
		case ev := <-s:
			data, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			name := strings.NewReplacer("\r", " ", "\n", " ").Replace(ev.Name) // one line per field
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

// close stops the workers and ends every open stream.
func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	r.client.CloseIdleConnections()
}
