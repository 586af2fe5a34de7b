package copymanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/google/uuid"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// Node is what the copy manager needs of its cluster node; *cluster.Node
// has it.
type Node interface {
	Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error)
	FSM() *fsm.FSM
	LinearizableRead(ctx context.Context) error
	WatchJob(id string) (<-chan struct{}, func())
}

// Manager turns third-party copy commands into cluster jobs.
type Manager struct {
	node Node
	log  *slog.Logger
}

// New returns a copy manager on node; a nil logger means slog.Default().
func New(node Node, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{node: node, log: log.With("component", "copymanager")}
}

// Limits are the parameter lists the copy manager advertises, in the
// third-party copy VPD page and OPERATING PARAMETERS alike: the disk
// segment types, since the target presents disks. A list whose CSCD
// descriptors name stream devices (the cluster's cartridges, by their NAA
// designators) may use the tape segment types too: see decode.
func (m *Manager) Limits() xcopy.Limits {
	lim := xcopy.DefaultLimits()
	lim.SegmentTypes = []xcopy.SegmentType{xcopy.BlockToBlock, xcopy.VerifyCSCD, xcopy.BlockToBlockOffsets}
	return lim
}

// decode parses a parameter list. A list that names a stream device is
// judged against everything the engine does (tape segments included);
// one that names disks only against the disk segment types, so that a
// tape segment between two disks is an UNSUPPORTED SEGMENT DESCRIPTOR TYPE
// CODE, as initiators expect of a disk target, rather than a copy aborted.
func (m *Manager) decode(list []byte) (*xcopy.ParameterList, error) {
	pl, err := xcopy.Decode(list, xcopy.DefaultLimits())
	if err == nil && slices.ContainsFunc(pl.Targets, func(t xcopy.TargetDescriptor) bool { return t.DeviceType == xcopy.DeviceStream }) {
		return pl, nil
	}
	return xcopy.Decode(list, m.Limits())
}

// keyPrefix is the idempotency-key prefix of the copies sent through an
// I_T nexus under a list identifier. SPC-4 scopes list identifiers, and
// the results RECEIVE COPY RESULTS reports, to the I_T nexus, so the key
// is the whole initiator port name (name,i,0xISID): another session of the
// same initiator, with another ISID, neither sees nor blocks these copies.
// A session reinstated through another node's portal after a failure keeps
// its ISID (RFC 7143's ISID rule) and so finds them.
func keyPrefix(initiator string, listID byte) string {
	return fmt.Sprintf("xcopy:%s:%02x:", initiator, listID)
}

// ExtendedCopy runs an EXTENDED COPY (LID1) parameter list as a cluster job
// and returns once the copy has ended, as the command completes only then.
// While a copy under the same list identifier from the same initiator is
// in progress, the command is refused (OPERATION IN PROGRESS).
func (m *Manager) ExtendedCopy(ctx context.Context, initiator string, list []byte) task.Result {
	pl, err := m.decode(list)
	if err != nil {
		return failWith(err)
	}
	key := "xcopy:" + uuid.NewString() // LIST ID USAGE 11b: the list identifier means nothing
	if pl.ListIDUsage != xcopy.ListIDNone {
		prefix := keyPrefix(initiator, pl.ListID)
		if err := m.node.LinearizableRead(ctx); err != nil {
			return m.busy(err)
		}
		if j, ok := m.latest(prefix); ok && !ended(j) {
			return task.Fail(sense.New(sense.IllegalRequest, sense.OperationInProgress))
		}
		key = prefix + uuid.NewString()
	}
	spec := &ferryv1.JobSpec{
		Name:               fmt.Sprintf("EXTENDED COPY list %d from %s", pl.ListID, initiator),
		XcopyParameterList: list,
	}
	if reason := m.node.FSM().ReservedDestination(spec); reason != "" {
		// The copy would wait, queued, until the reservation is released
		// (a copy job is no nexus of the initiator's): the command is
		// refused at once instead, as a write to the LUN would be.
		m.log.Info("EXTENDED COPY refused", "initiator", initiator, "reason", reason)
		return task.Result{Status: task.ReservationConflict}
	}
	res, err := m.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_SubmitJob{SubmitJob: &ferryv1.SubmitJobOp{
		JobId:          uuid.NewString(),
		IdempotencyKey: key,
		Spec:           spec,
	}}})
	if err == nil {
		err = res.Err
	}
	if errors.Is(err, fsm.ErrInvalid) {
		// The state machine refused the list on the devices it names
		// (fsm.FSM.JobAccess): a range past a LUN's end, a write to a
		// protected device. Its sense is the CHECK CONDITION.
		return failWith(err)
	}
	if err != nil {
		return m.busy(err)
	}
	job, err := m.wait(ctx, res.Job.GetId())
	if err != nil {
		// The copy goes on in the cluster; RECEIVE COPY RESULTS follows it.
		return task.Result{Status: task.TaskAborted}
	}
	if job.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED {
		return task.Result{Status: task.Good}
	}
	if len(job.GetError().GetSense()) == 0 {
		m.log.Warn("copy ended without sense data", "job", job.GetId(), "state", job.GetState().String(), "error", job.GetError().GetMessage())
	}
	return task.Fail(copyAborted(job))
}

// ReceiveCopyResults answers RECEIVE COPY RESULTS (LID1) from the
// replicated state, after a linearizable read: whichever node answers, it
// reports the copy as it is.
func (m *Manager) ReceiveCopyResults(ctx context.Context, initiator string, cdb []byte, _ uint32) task.Result {
	c, err := xcopy.DecodeReceiveCopyResultsCDB(cdb)
	if err != nil {
		return failWith(err)
	}
	if c.Action == xcopy.ActionOperatingParameters {
		data, err := m.Limits().OperatingParameters().Encode()
		if err != nil {
			return m.busy(err)
		}
		return task.Result{Status: task.Good, DataIn: data}
	}
	if err := m.node.LinearizableRead(ctx); err != nil {
		return m.busy(err)
	}
	job, ok := m.latest(keyPrefix(initiator, c.ListID))
	if !ok {
		// SPC-4: a list identifier the copy manager holds no results for.
		return task.Fail(sense.InvalidCDB(2, 7))
	}
	switch c.Action {
	case xcopy.ActionCopyStatus:
		return task.Result{Status: task.Good, DataIn: CopyStatus(job).Encode()}
	default: // ActionFailedSegmentDetails: the CDB decoder admits no other
		data, _, err := FailedSegmentDetails(job)
		if err != nil {
			return m.busy(err)
		}
		return task.Result{Status: task.Good, DataIn: data}
	}
}

// latest is the most recent copy under a key prefix.
func (m *Manager) latest(prefix string) (*ferryv1.Job, bool) {
	jobs, _ := m.node.FSM().Jobs(fsm.Query{KeyPrefix: prefix})
	if len(jobs) == 0 {
		return nil, false
	}
	return jobs[len(jobs)-1], true
}

// wait returns the job once it has ended.
func (m *Manager) wait(ctx context.Context, id string) (*ferryv1.Job, error) {
	changed, stop := m.node.WatchJob(id)
	defer stop()
	for {
		if j, ok := m.node.FSM().Job(id); ok && ended(j) {
			return j, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func ended(j *ferryv1.Job) bool {
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED, ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
		return true
	}
	return false
}

// failWith is the CHECK CONDITION for a decoding error, which carries its
// sense data.
func failWith(err error) task.Result {
	var sd *sense.Sense
	if errors.As(err, &sd) {
		return task.Fail(sd)
	}
	return task.Fail(sense.InvalidParameter(0, 7))
}

// busy answers a command the cluster could not take now (no leader, say):
// the initiator retries.
func (m *Manager) busy(err error) task.Result {
	m.log.Warn("copy command answered BUSY", "err", err)
	return task.Result{Status: task.Busy}
}
