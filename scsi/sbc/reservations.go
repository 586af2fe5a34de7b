package sbc

import (
	"context"
	"sync"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// Reservations is where the reservation state of the server's LUNs lives.
type Reservations interface {
	// State is the LUN's reservation state as this node has applied it. Called for every command: must be cheap.
	State(id Identity) pr.State
	// Apply decides a reservation command (PERSISTENT RESERVE OUT, RESERVE(6), RELEASE(6)) from n and returns once it is in effect on this node.
	Apply(ctx context.Context, id Identity, n pr.Nexus, cdb, params []byte) (pr.Effect, error)
	// Busy says why initiators must not write the LUN now (a cluster copy job writes it), or nil: writes are then answered RESERVATION CONFLICT.
	Busy(id Identity) error
}

// localReservations keeps the reservations of a lone server in memory,
// by LUN identity: they last as long as the process.
type localReservations struct {
	mu     sync.Mutex
	states map[string]pr.State
}

func newLocalReservations() *localReservations {
	return &localReservations{states: make(map[string]pr.State)}
}

func (l *localReservations) State(id Identity) pr.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.states[string(id.NAA)]
}

func (l *localReservations) Apply(_ context.Context, id Identity, n pr.Nexus, cdb, params []byte) (pr.Effect, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next, e, err := pr.Apply(l.states[string(id.NAA)], n, cdb, params)
	if err != nil {
		return pr.Effect{}, err
	}
	l.states[string(id.NAA)] = next
	return e, nil
}

func (l *localReservations) Busy(Identity) error { return nil }

// admit decides whether a command to an existing LUN runs: a pending unit
// attention ends it first (SAM-5 5.14), then the reservations may refuse
// it (pr.Conflicts), and a LUN a cluster copy job is writing refuses
// writes. Each refusal is the command's result.
func (s *Server) admit(r *request) (task.Result, bool) {
	id := r.lun.Identity()
	if code, ok := s.attn.arrive(id, r.task.Initiator, reportsAttention(r.cdb[0])); ok {
		return task.Fail(sense.New(sense.UnitAttention, code)), true
	}
	if pr.Conflicts(s.reservations.State(id), s.nexus(r.task), r.cdb) {
		return task.Result{Status: task.ReservationConflict}, true
	}
	if pr.Writes(r.cdb) {
		if err := s.reservations.Busy(id); err != nil {
			s.cfg.Logger.Debug("scsi: write refused while the LUN is busy", "initiator", r.task.Initiator, "err", err)
			return task.Result{Status: task.ReservationConflict}, true
		}
	}
	return task.Result{}, false
}
