package pipeline

import (
	"errors"

	"github.com/prometheus/common/model"

	"github.com/tocsin-alerting/tocsin/internal/cluster"
	"github.com/tocsin-alerting/tocsin/notifiers"
)

// errNoRoute refuses alerts when the config has no route to send them on.
var errNoRoute = errors.New("tocsin has no route configured: alerts cannot be sent anywhere")

// Ingest hands alerts from outside tocsin (Prometheus and other clients
// of the Alertmanager API) to the dispatcher: they go down the same route
// tree as the rules' own alerts.
func (p *Pipeline) Ingest(alerts ...*model.Alert) error {
	p.mu.Lock()
	d := p.dispatcher
	p.mu.Unlock()
	if d == nil {
		return errNoRoute
	}
	d.Send(alerts...)
	return nil
}

// AlertGroups returns the dispatcher's groups and their alerts.
func (p *Pipeline) AlertGroups() []notifiers.AlertGroup {
	p.mu.Lock()
	d := p.dispatcher
	p.mu.Unlock()
	if d == nil {
		return nil
	}
	return d.AlertGroups()
}

// Peer is this replica's membership of the cluster, or nil without one;
// it is there once the first configuration is applied.
func (p *Pipeline) Peer() *cluster.Peer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peer
}
