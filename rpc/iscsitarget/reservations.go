package iscsitarget

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sbc"
	"github.com/ferry-san/ferry/scsi/sense"
)

// reservationNode is what the reservations need of the cluster node;
// *cluster.Node has it.
type reservationNode interface {
	Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error)
	FSM() *fsm.FSM
	LinearizableRead(ctx context.Context) error
	OnApply(fn func(cluster.Applied)) (stop func())
	PeerApplied(ctx context.Context, addr string) (uint64, error)
	Name() string
	Leader() uint64
	IsLeader() bool
	Members() []*ferryv1.Member
}

// deliverer hands a reservation command's Effect to the device server of
// this node (*sbc.Server): unit attentions, and the aborts of the tasks of
// preempted nexuses.
type deliverer interface {
	Deliver(id sbc.Identity, e pr.Effect)
}

// proposeTimeout bounds how long a reservation command waits for the
// cluster to commit it.
const proposeTimeout = 10 * time.Second

// reservations is the cluster's store of SCSI reservations as the device
// server sees it (sbc.Reservations): the state of each disk, kept in step
// with the state machine by its apply loop, and the disks copy jobs write.
// See doc.go for how a change reaches every node's portal.
type reservations struct {
	node reservationNode
	log  *slog.Logger
	// port is this node's relative target port identifier.
	port uint16
	// fenceWait bounds how long a reservation command waits for the other
	// nodes' portals to apply it (see awaitPeers).
	fenceWait time.Duration

	// follow orders the apply loop's updates and a reload from the state
	// machine, so that a reload never installs a state older than an
	// update it raced with.
	follow sync.Mutex
	mu     sync.RWMutex
	// disks maps a disk's NAA designator (the raw bytes, as a string) to
	// its name and reservations.
	disks map[string]*diskReservation
	// writing maps a disk's name to the running jobs that write it, and
	// jobWrites a running job to the disks it writes.
	writing   map[string][]string
	jobWrites map[string][]string

	effects *effectQueue
	stop    func()
}

type diskReservation struct {
	name  string
	naa   []byte
	state pr.State
}

func newReservations(node reservationNode, port uint16, log *slog.Logger) *reservations {
	return &reservations{node: node, port: port, log: log, fenceWait: 3 * time.Second}
}

// start follows the state machine from now on, then loads what it holds,
// and delivers reservation commands' effects to srv until ctx ends. It
// must return before the target serves a command.
func (r *reservations) start(ctx context.Context, srv deliverer) {
	r.effects = newEffectQueue(srv)
	go r.effects.run(ctx)
	// Observe before loading: a command applied in between is seen twice
	// (loaded, then observed), which is harmless, rather than missed.
	r.stop = r.node.OnApply(r.applied)
	r.reload()
	r.releaseOwn(ctx)
	go r.releaseDead(ctx)
}

func (r *reservations) close() {
	if r.stop != nil {
		r.stop()
	}
}

// applied is called by the apply loop after each command.
func (r *reservations) applied(a cluster.Applied) {
	r.follow.Lock()
	defer r.follow.Unlock()
	if a.Command == nil {
		r.reloadLocked()
		return
	}
	res := a.Result
	switch a.Command.GetOp().(type) {
	case *ferryv1.Command_Reserve:
		if res.Err != nil {
			return
		}
		r.setDisk(res.Disk)
		// This node's own commands' Effects go back through Apply to the
		// device server, which delivers them once the command is decided.
		if a.Command.GetNode() != r.node.Name() {
			r.effects.push(res.Disk, res.Effect)
		}
	case *ferryv1.Command_RegisterDisk:
		r.setDisk(res.Disk)
	case *ferryv1.Command_RemoveDevice:
		if res.Disk != nil {
			r.mu.Lock()
			delete(r.disks, naaKey(res.Disk))
			r.mu.Unlock()
		}
	}
	if res.Job != nil {
		r.jobChanged(res.Job)
	}
	for _, b := range res.Batch {
		if b.Job != nil {
			r.jobChanged(b.Job)
		}
	}
}

// reload rebuilds everything from the state machine: at start, and after
// a snapshot replaced its state.
func (r *reservations) reload() {
	r.follow.Lock()
	defer r.follow.Unlock()
	r.reloadLocked()
}

func (r *reservations) reloadLocked() {
	disks := map[string]*diskReservation{}
	for _, d := range r.node.FSM().Disks() {
		if e := entryOf(d); e != nil {
			disks[string(e.naa)] = e
		}
	}
	running, _ := r.node.FSM().Jobs(fsm.Query{State: ferryv1.JobState_JOB_STATE_RUNNING})
	r.mu.Lock()
	r.disks = disks
	r.writing, r.jobWrites = map[string][]string{}, map[string][]string{}
	r.mu.Unlock()
	for _, j := range running {
		r.jobChanged(j)
	}
}

func entryOf(d *ferryv1.Disk) *diskReservation {
	naa, err := hex.DecodeString(d.GetNaa())
	if err != nil {
		return nil
	}
	return &diskReservation{name: d.GetName(), naa: naa, state: fsm.ReservationState(d.GetReservation())}
}

func naaKey(d *ferryv1.Disk) string {
	naa, _ := hex.DecodeString(d.GetNaa())
	return string(naa)
}

func (r *reservations) setDisk(d *ferryv1.Disk) {
	e := entryOf(d)
	if e == nil {
		return
	}
	r.mu.Lock()
	r.disks[string(e.naa)] = e
	r.mu.Unlock()
}

// jobChanged keeps the disks running jobs write: a job is looked up
// (fsm.FSM.JobAccess, the rule the executor's locks follow) when it starts
// running, and forgotten when it stops.
func (r *reservations) jobChanged(j *ferryv1.Job) {
	id := j.GetId()
	r.mu.RLock()
	_, known := r.jobWrites[id]
	r.mu.RUnlock()
	running := j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING
	if running == known {
		return
	}
	var writes []string
	if running {
		acc, _ := r.node.FSM().JobAccess(j.GetSpec())
		for _, d := range acc.Devices {
			if d.Write && d.Device.Disk != nil {
				writes = append(writes, d.Device.Disk.GetName())
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range r.jobWrites[id] {
		r.writing[name] = slices.DeleteFunc(r.writing[name], func(o string) bool { return o == id })
		if len(r.writing[name]) == 0 {
			delete(r.writing, name)
		}
	}
	delete(r.jobWrites, id)
	if running {
		r.jobWrites[id] = writes
		for _, name := range writes {
			r.writing[name] = append(r.writing[name], id)
		}
	}
}

// State is the LUN's reservations as this node last applied them: a map
// look-up, as the device server asks for every command.
func (r *reservations) State(id sbc.Identity) pr.State {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e, ok := r.disks[string(id.NAA)]; ok {
		return e.state
	}
	return pr.State{}
}

// Busy refuses a write through iSCSI to a disk a copy job is writing, with
// RESERVATION CONFLICT: to the initiator the cluster's copy holds the LUN
// the way another initiator's reservation would, and it is a condition an
// initiator waits out and retries, where DATA PROTECT would make it take
// the LUN for read-only. It also refuses writes to a LUN that has
// registrations while this node knows no Raft leader: such a node may be
// cut off from a PREEMPT committed elsewhere (see doc.go).
func (r *reservations) Busy(id sbc.Identity) error {
	r.mu.RLock()
	e, ok := r.disks[string(id.NAA)]
	var jobs []string
	var registered bool
	if ok {
		jobs = r.writing[e.name]
		registered = len(e.state.Registrations) > 0 || e.state.Legacy != nil
	}
	r.mu.RUnlock()
	switch {
	case !ok:
		return nil
	case len(jobs) > 0:
		return fmt.Errorf("disk %s is being written by copy job %s: %w", e.name, jobs[0], pr.ErrConflict)
	case registered && r.node.Leader() == 0:
		return fmt.Errorf("disk %s has reservations and this node has no Raft leader to learn their changes from: %w", e.name, pr.ErrConflict)
	}
	return nil
}

// Apply commits a reservation command through Raft and returns its
// Effect, for the device server to deliver on this node, once this node
// has applied it and every other live node serving iSCSI has too (or
// fenceWait has passed): the other nodes' observers deliver it there. A
// command whose proposal timed out may still commit: its Effect is then
// delivered on the other nodes only, though every node's cache, and so
// its conflict checks, follow it.
func (r *reservations) Apply(ctx context.Context, id sbc.Identity, n pr.Nexus, cdb, params []byte) (pr.Effect, error) {
	r.mu.RLock()
	e, ok := r.disks[string(id.NAA)]
	r.mu.RUnlock()
	if !ok {
		return pr.Effect{}, sense.New(sense.IllegalRequest, sense.LUNotSupported)
	}
	ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	res, err := r.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_Reserve{Reserve: &ferryv1.ReserveOp{
		Disk: e.name, Nexus: &ferryv1.PRNexus{Initiator: n.Initiator, TargetPort: uint32(n.TargetPort)},
		Cdb: cdb, Parameters: params,
	}}})
	if err != nil {
		// Whether it will commit is unknown: the initiator retries.
		r.log.Warn("reservation command not committed", "disk", e.name, "initiator", n.Initiator, "err", err)
		return pr.Effect{}, sense.New(sense.NotReady, sense.NotReadyCauseNotReportable)
	}
	if err := res.Err; err != nil {
		var s *sense.Sense
		switch {
		case errors.Is(err, pr.ErrConflict), errors.As(err, &s):
			return pr.Effect{}, err
		case errors.Is(err, fsm.ErrNotFound):
			return pr.Effect{}, sense.New(sense.IllegalRequest, sense.LUNotSupported)
		}
		r.log.Error("reservation command refused by the state machine", "disk", e.name, "err", err)
		return pr.Effect{}, sense.New(sense.HardwareError, sense.InternalTargetFailure)
	}
	r.awaitPeers(ctx, res.Index)
	return res.Effect, nil
}
