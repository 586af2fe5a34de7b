package executor

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/drivemodel"
	"github.com/ferry-san/ferry/storage/fence"
)

// Node is what the executor needs of a cluster node; *cluster.Node has it.
type Node interface {
	Name() string
	// ClusterID is the id the node's cluster writes into device fences.
	ClusterID() string
	Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error)
	FSM() *fsm.FSM
	// WatchJobs signals after any job changes.
	WatchJobs() (<-chan struct{}, func())
	// RenewLease renews this node's lease through the leader.
	RenewLease(ctx context.Context, jobs []*ferryv1.JobLease) (*ferryv1.RenewLeaseResponse, error)
	// Ready reports that the node knows a leader and has applied every
	// entry it knows to be committed.
	Ready() bool
	// LinearizableRead returns once this node has applied everything the
	// leader had committed when it was called.
	LinearizableRead(ctx context.Context) error
}

// Defaults of Config.
const (
	// DefaultRenewInterval is how often the lease is renewed: several
	// tries fit in the renew deadline.
	DefaultRenewInterval = 250 * time.Millisecond
	// DefaultRenewDeadline is how long after sending a granted renewal
	// this node may write. It must stay below the leader's lease
	// (scheduler.DefaultLease, 1.5 s); the executor never uses more than
	// two thirds of the lease the leader reports.
	DefaultRenewDeadline = time.Second
)

// Config tunes the executor. Zero values take the defaults.
type Config struct {
	// Mover tunes every copy: buffers, checkpoint cadence (default 64 MiB /
	// 1 s). OnCheckpoint and OnProgress are the executor's own.
	Mover mover.Config
	// Rescan is how often the executor looks for work even without a
	// change notification. Default 1s.
	Rescan time.Duration
	// RenewInterval is DefaultRenewInterval by default.
	RenewInterval time.Duration
	// RenewDeadline is DefaultRenewDeadline by default.
	RenewDeadline time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the executor's metrics; nil registers none.
	Registerer prometheus.Registerer
	// DriveClock paces the modelled drives (storage/drivemodel); nil is
	// the machine's clock.
	DriveClock drivemodel.Clock
	// DeviceDirs refuses to open a device whose path this node's
	// -device-dirs exclude (security/devicedirs.Policy): the registry is
	// the cluster's, and a disk registered through another node was
	// checked against that node's directories, not this one's. Nil: any
	// path.
	DeviceDirs PathChecker
}

// PathChecker refuses paths this node must not open as devices.
type PathChecker interface {
	Check(path string) error
}

// checkPath refuses a device's path that this node's -device-dirs
// exclude, naming the device and the node, before anything is claimed or
// opened: nothing is written to or beside it.
func (e *Executor) checkPath(device, path string) error {
	if e.cfg.DeviceDirs == nil {
		return nil
	}
	if err := e.cfg.DeviceDirs.Check(path); err != nil {
		return fmt.Errorf("%w: %s: node %s will not open it: %w", ErrDeviceDirs, device, e.node.Name(), err)
	}
	return nil
}

// ErrDeviceDirs: a copy needs a device that this node's -device-dirs
// exclude. The job fails with the reason rather than wait, since nothing
// on this node will change it (the operator moves the device, registers it
// under an allowed directory, or widens -device-dirs).
var ErrDeviceDirs = errors.New("device outside this node's -device-dirs")

// Executor runs the jobs the scheduler placed on this node, and keeps this
// node's lease. A copy writes only while the lease is valid, and every
// device it writes is fenced with the job's epoch.
type Executor struct {
	node    Node
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	lease   *ownerLease
	batch   *checkpointBatcher

	locks   *deviceLocks
	mu      sync.Mutex
	running map[string]*runningJob
	wg      sync.WaitGroup
	// started is when this executor was made, on this node's clock, which
	// stamps the NDMP sessions it opens: a session of this node created
	// before it belongs to an earlier incarnation (see endOrphans).
	started time.Time
	// ending are the orphaned NDMP sessions whose end is being proposed.
	ending map[string]bool
	// drives are the timing of the modelled drives this node opens
	// cartridges in (storage/drivemodel), shared by the jobs that use
	// each drive in turn.
	drives *drivemodel.Set
}

// runningJob is a copy under way on this node.
type runningJob struct {
	epoch  uint64
	cancel context.CancelCauseFunc
	// bytes is how far the copy got, committed or not, for the lease
	// report.
	bytes atomic.Int64
	// done is closed when the copy has stopped and closed its devices.
	done chan struct{}
}

// New returns an executor for node; Run starts it.
func New(node Node, cfg Config) *Executor {
	if cfg.Rescan <= 0 {
		cfg.Rescan = time.Second
	}
	if cfg.RenewInterval <= 0 {
		cfg.RenewInterval = DefaultRenewInterval
	}
	if cfg.RenewDeadline <= 0 {
		cfg.RenewDeadline = DefaultRenewDeadline
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := newMetrics(cfg.Registerer)
	return &Executor{
		node: node, cfg: cfg, log: cfg.Logger.With("component", "executor"), metrics: m,
		lease: newOwnerLease(), batch: &checkpointBatcher{node: node}, locks: newDeviceLocks(), running: map[string]*runningJob{},
		started: time.Now(), ending: map[string]bool{},
		drives: drivemodel.NewSet(cfg.DriveClock, func(library string, drive uint32) {
			m.driveStalls.WithLabelValues(library, strconv.FormatUint(uint64(drive), 10)).Inc()
		}),
	}
}

// Run renews the lease and runs this node's jobs until ctx ends, then
// stops every copy (their last checkpoints stay committed: whoever runs the
// job next resumes from them) and waits for them.
func (e *Executor) Run(ctx context.Context) {
	renewDone := make(chan struct{})
	go func() { e.renewLoop(ctx); close(renewDone) }()
	defer func() { <-renewDone }()
	e.catchUp(ctx)
	changed, stop := e.node.WatchJobs()
	defer stop()
	ticker := time.NewTicker(e.cfg.Rescan)
	defer ticker.Stop()
	for {
		var soon <-chan time.Time
		if !e.scan(ctx) {
			// Not caught up yet (often just the rest of the batch of
			// entries whose change woke us): look again shortly rather
			// than at the next rescan.
			soon = time.After(notReadyRetry)
		}
		select {
		case <-soon:
		case <-ctx.Done():
			e.mu.Lock()
			for _, r := range e.running {
				r.cancel(context.Cause(ctx))
			}
			e.mu.Unlock()
			e.wg.Wait()
			return
		case <-changed:
		case <-ticker.C:
		}
	}
}

// catchUp waits until this node has applied what the leader had committed
// when it started. A restarted node's own idea of the commit index is its
// last one before it went down, so Ready alone could let it act on a past
// in which it still owned a job that has since moved.
func (e *Executor) catchUp(ctx context.Context) {
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := e.node.LinearizableRead(rctx)
		cancel()
		if err == nil {
			return
		}
		e.log.Debug("catching up with the leader before running jobs", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(e.cfg.RenewInterval):
		}
	}
}

// notReadyRetry is how soon a scan is retried while the node catches up.
const notReadyRetry = 20 * time.Millisecond

// errMoved is the cause a copy stops with when the replicated state no
// longer has the job running here under its epoch.
var errMoved = errors.New("the job is no longer this node's under this epoch (taken over, cancelled or ended)")

// scan starts the jobs placed on this node and stops the ones it no longer
// owns under the epoch they run with.
// It reports false, doing nothing, while the node has not caught up.
func (e *Executor) scan(ctx context.Context) bool {
	if !e.node.Ready() {
		// A node catching up (after a restart, say) may replay a past in
		// which it owned a job that has since moved: it waits for the
		// present rather than claim devices it lost.
		return false
	}
	me := e.node.Name()
	mine, _ := e.node.FSM().Jobs(fsm.Query{State: ferryv1.JobState_JOB_STATE_RUNNING, Owner: me})
	epochs := make(map[string]uint64, len(mine))
	for _, j := range mine {
		epochs[j.GetId()] = j.GetEpoch()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, r := range e.running {
		if epochs[id] != r.epoch {
			r.cancel(errMoved)
		}
	}
	// NDMP sessions are the NDMP server's to open and end, not the
	// executor's to start.
	mine = slices.DeleteFunc(mine, func(j *ferryv1.Job) bool {
		if !fsm.IsNDMP(j) {
			return false
		}
		if _, held := e.running[j.GetId()]; !held && j.GetCreatedAt().AsTime().Before(e.started) && !e.ending[j.GetId()] {
			e.ending[j.GetId()] = true
			go e.endOrphan(ctx, j)
		}
		return true
	})
	for _, j := range mine {
		if r, active := e.running[j.GetId()]; active || ctx.Err() != nil {
			if active && r.epoch != j.GetEpoch() {
				// Placed here again under a newer epoch: start once
				// the old copy has stopped.
				go func() {
					<-r.done
					e.mu.Lock()
					defer e.mu.Unlock()
					e.startLocked(ctx, j)
				}()
			}
			continue
		}
		e.startLocked(ctx, j)
	}
	return true
}

func (e *Executor) startLocked(ctx context.Context, j *ferryv1.Job) {
	if _, active := e.running[j.GetId()]; active || ctx.Err() != nil {
		return
	}
	jctx, cancel := context.WithCancelCause(ctx)
	r := &runningJob{epoch: j.GetEpoch(), cancel: cancel, done: make(chan struct{})}
	e.running[j.GetId()] = r
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.execute(jctx, j, r)
		e.mu.Lock()
		if e.running[j.GetId()] == r {
			delete(e.running, j.GetId())
		}
		e.mu.Unlock()
		cancel(nil)
		close(r.done)
	}()
}

// stopJob stops a copy (or an NDMP session), if it runs, and reports
// whether it did.
func (e *Executor) stopJob(id string, cause error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.running[id]
	if ok {
		r.cancel(cause)
	}
	return ok
}

// execute runs the copy under the job's epoch and records the outcome.
func (e *Executor) execute(ctx context.Context, job *ferryv1.Job, r *runningJob) {
	epoch := job.GetEpoch()
	log := e.log.With("job", job.GetId(), "epoch", epoch)
	log.Info("running job", "checkpoint", job.GetProgress().GetCheckpointOffset())
	res, writes, runErr := e.copy(ctx, log, job, r)
	switch {
	case ctx.Err() != nil:
		// Taken over, cancelled, or the node is stopping: the job's fate
		// is recorded elsewhere, or it resumes from its checkpoint.
		log.Info("job stopped", "why", context.Cause(ctx))
		return
	case errors.Is(runErr, fsm.ErrFenced):
		// A newer epoch owns the job: nothing of ours may be recorded.
		log.Warn("job fenced off: a newer owner has it", "err", runErr)
		return
	case errors.Is(runErr, fence.ErrFenced) && !e.stillOurs(ctx, job):
		// The job's new owner claimed the device: its outcome is theirs
		// to record. (Were this wrong, the state machine would refuse our
		// FinishJob anyway: its epoch is stale.)
		log.Warn("job fenced off: a newer owner claimed the device", "err", runErr)
		return
	case deviceRefused(runErr):
		// The device refuses this job for good: a fence of another
		// cluster, or an epoch no owner of this job ever had. Waiting
		// would hold the job and every job queued behind its devices
		// forever; the job fails with the reason, and its devices are
		// free again.
		runErr = fmt.Errorf("%w: the device refused the job: %w%s", sense.New(sense.CopyAborted, sense.CopyTargetNotReachable), runErr, refusalHint(runErr))
	}
	finish := &ferryv1.FinishJobOp{JobId: job.GetId(), Epoch: epoch}
	ended := "succeeded"
	if runErr != nil {
		ended = "failed"
		finish.State = ferryv1.JobState_JOB_STATE_FAILED
		finish.Error = jobError(runErr)
		finish.Error.TapeWrites = writes
		log.Warn("job failed", "err", runErr)
	} else {
		finish.State = ferryv1.JobState_JOB_STATE_SUCCEEDED
		finish.Result = jobResult(res)
		finish.Result.TapeWrites = writes
		log.Info("job succeeded", "bytes", res.Bytes, "sha256", finish.Result.GetSha256())
	}
	if _, err := e.propose(context.WithoutCancel(ctx), &ferryv1.Command{Op: &ferryv1.Command_FinishJob{FinishJob: finish}}); err != nil {
		log.Error("could not record the job's end", "err", err)
		return
	}
	e.metrics.jobs.WithLabelValues(ended).Inc()
}

// deviceRefused reports a device's fence refusing the job, rather than
// the cluster: another cluster's fence, or a newer epoch than the job's.
func deviceRefused(err error) bool {
	return errors.Is(err, fence.ErrOtherCluster) || errors.Is(err, fence.ErrFenced)
}

// refusalHint tells the operator what to do about a device that refused.
func refusalHint(err error) string {
	if errors.Is(err, fence.ErrOtherCluster) {
		return " (the device's fence is another cluster's: if that cluster no longer uses the device, remove it and " +
			"register it again with 'ferry disk add --take-over' or 'ferry tape import --take-over')"
	}
	return " (no owner of this job ever had that epoch: the fence was left by a cluster that wrote no cluster id into it, " +
		"or by an earlier registration of the same file; once nothing else writes the device, remove it and register it " +
		"again with 'ferry disk add --take-over' or 'ferry tape import --take-over')"
}

// stillOurs reports whether the job is still this node's under the epoch it
// ran with, after a linearizable read: a device claimed by a newer epoch
// is then not the job's takeover. If the read fails it says no, and the
// job is looked at again at the next scan.
func (e *Executor) stillOurs(ctx context.Context, job *ferryv1.Job) bool {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.node.LinearizableRead(rctx); err != nil {
		return false
	}
	j, ok := e.node.FSM().Job(job.GetId())
	return ok && j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING && j.GetEpoch() == job.GetEpoch() && j.GetOwner() == e.node.Name()
}

// takenOverAt returns when the job's last checkpoint was committed, if its
// current epoch began with a takeover: the start of the takeover latency.
func takenOverAt(j *ferryv1.Job) (time.Time, bool) {
	takeover := false
	for _, ev := range j.GetHistory() {
		if ev.GetRaftIndex() == j.GetEpoch() && strings.HasPrefix(ev.GetMessage(), "taken over by ") {
			takeover = true
		}
	}
	if !takeover {
		return time.Time{}, false
	}
	var last time.Time
	for _, ev := range j.GetHistory() {
		if strings.HasPrefix(ev.GetMessage(), "checkpoint at ") || strings.HasPrefix(ev.GetMessage(), "started on ") ||
			strings.HasPrefix(ev.GetMessage(), "resumed on ") {
			last = ev.GetTime().AsTime()
		}
	}
	return last, !last.IsZero()
}

// copy opens the job's devices and runs its plan from the last checkpoint.
// Before it closes them it reads back what the job left on the cartridges
// it wrote, for their catalogs (tapeWrites).
func (e *Executor) copy(ctx context.Context, log *slog.Logger, job *ferryv1.Job, r *runningJob) (mover.Result, []*ferryv1.TapeWrite, error) {
	epoch := job.GetEpoch()
	reg := e.node.FSM()
	uses, ranges := deviceUses(reg, job)
	release, err := e.locks.acquire(ctx, job, uses)
	if err != nil {
		return mover.Result{}, nil, err
	}
	// Released after the devices are closed (defers run last first).
	defer release()
	guard := &writeGuard{ctx: ctx, cluster: e.node.ClusterID(), epoch: epoch, ranges: ranges, lease: e.lease, metrics: e.metrics}
	if since, ok := takenOverAt(job); ok {
		guard.onFirst = func(now time.Time) {
			e.metrics.takeover.Observe(now.Sub(since).Seconds())
			log.Info("first write after the takeover", "since_last_checkpoint", now.Sub(since))
		}
	}
	defer func() {
		if err := guard.close(); err != nil {
			log.Warn("closing fences", "err", err)
		}
	}()
	o := &opened{guard: guard, ctx: ctx, tapes: job.GetTapes(), drives: e.drives, checkPath: e.checkPath}
	defer func() {
		if err := o.close(); err != nil {
			log.Warn("closing devices", "err", err)
		}
	}()
	var resume *mover.Checkpoint
	if b := job.GetCheckpoint(); len(b) > 0 {
		resume = &mover.Checkpoint{}
		if err := resume.UnmarshalBinary(b); err != nil {
			return mover.Result{}, nil, fmt.Errorf("job's checkpoint: %w", err)
		}
		log.Info("resuming from checkpoint", "segment", resume.Segment, "bytes", resume.BytesDone)
	}
	spec := job.GetSpec()
	var plan mover.Plan
	var total int64 // bytes the plan moves, 0 when a tape source hides it
	if list := spec.GetXcopyParameterList(); len(list) > 0 {
		var err error
		if plan, err = e.xcopyPlan(reg, list, o); err != nil {
			return mover.Result{}, nil, err
		}
	} else {
		if err := o.openEndpoint(reg, spec.GetSource(), false); err != nil {
			return mover.Result{}, nil, err
		}
		if err := o.openEndpoint(reg, spec.GetDestination(), true); err != nil {
			return mover.Result{}, nil, err
		}
		var err error
		if plan, total, err = endpointPlan(spec, o.devs, resume); err != nil {
			return mover.Result{}, nil, err
		}
	}
	segments := uint32(len(plan.Segments))
	// The devices are open and claimed: from here on no older owner
	// writes. Record the start under the epoch; a refusal means a newer
	// owner has the job already.
	if _, err := e.propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_StartJob{StartJob: &ferryv1.StartJobOp{
		JobId: job.GetId(), Epoch: epoch, BytesTotal: uint64(max(total, 0)), SegmentsTotal: segments,
		ResumeOffset: uint64(job.GetProgress().GetCheckpointOffset()),
	}}}); err != nil {
		return mover.Result{}, nil, fmt.Errorf("record the start: %w", err)
	}
	cfg := e.cfg.Mover
	cfg.Logger = log
	if bw := spec.GetOptions().GetBwlimitBytesPerSecond(); bw > 0 {
		cfg.BandwidthLimit = int64(bw)
	}
	if n := spec.GetOptions().GetCheckpointIntervalBytes(); n > 0 {
		cfg.CheckpointBytes = int64(n)
	}
	progress := func(cp mover.Checkpoint) *ferryv1.JobProgress {
		return &ferryv1.JobProgress{BytesDone: uint64(cp.BytesDone), BytesTotal: uint64(max(total, 0)), SegmentsDone: uint32(cp.Segment),
			SegmentsTotal: segments, CheckpointOffset: uint64(cp.BytesDone)}
	}
	cfg.OnCheckpoint = func(ctx context.Context, cp mover.Checkpoint) error {
		b, err := cp.MarshalBinary()
		if err != nil {
			return err
		}
		err = e.batch.commit(ctx, &ferryv1.CheckpointJobOp{JobId: job.GetId(), Epoch: epoch, Checkpoint: b, Progress: progress(cp)})
		e.metrics.checkpoints.WithLabelValues(outcome(err)).Inc()
		return err
	}
	var sp *spanner
	if spanning(spec) {
		sp = &spanner{e: e, log: log, jobID: job.GetId(), epoch: epoch, pool: spec.GetDestination().GetPool(), o: o,
			total: max(total, 0), progress: progress}
		cfg.Span = sp.span
		if resume != nil {
			if err := sp.resume(ctx, job, resume, 1); err != nil {
				return mover.Result{}, nil, err
			}
		}
	}
	var last int64
	cfg.OnProgress = func(p mover.Progress) {
		e.metrics.bytes.Add(float64(p.Bytes - last))
		last = p.Bytes
		r.bytes.Store(p.Bytes)
	}
	if resume != nil {
		last = resume.BytesDone
		r.bytes.Store(resume.BytesDone)
	}
	res, err := mover.Run(ctx, cfg, plan, o.devs, resume)
	// A copy that spanned, in this run or before it, wrote only its last
	// part on the cartridge it ends on.
	spanned := sp != nil && (sp.spanned || resume != nil && resume.Volumes[1].Number > 1)
	if err == nil && spec.GetOptions().GetVerify() && len(spec.GetXcopyParameterList()) == 0 {
		if spanned {
			err = e.verifySpanned(ctx, job.GetId(), o.devs[1], res)
		} else {
			err = verifyCopy(plan, unguarded(o.devs[1]), res)
		}
	}
	return res, catalog(ctx, log, job.GetId(), spec, plan, o.devs, res, err, spanned), err
}

// catalog is tapeWrites for a copy that ended with err.
func catalog(ctx context.Context, log *slog.Logger, jobID string, spec *ferryv1.JobSpec, plan mover.Plan, devs []mover.Device, res mover.Result, err error, spanned bool) []*ferryv1.TapeWrite {
	if len(res.Written) == 0 || ctx.Err() != nil {
		return nil
	}
	var last *ferryv1.TapeFile
	isImage := slices.ContainsFunc(plan.Segments, func(s mover.Segment) bool { return s.Kind == mover.TapeImage })
	if err == nil && len(spec.GetXcopyParameterList()) == 0 && !isImage && !spanned {
		// A source → destination plan writes one file, hashed as it went
		// (of a copy that spanned, the last volume holds a part: read back).
		last = &ferryv1.TapeFile{Bytes: uint64(res.Bytes), Sha256: hex.EncodeToString(res.SHA256[:])}
	}
	writes, werr := tapeWrites(ctx, jobID, devs, res.Written, err != nil, last)
	if werr != nil {
		log.Warn("the catalog of the cartridges written may miss files", "err", werr)
	}
	return writes
}

func (e *Executor) propose(ctx context.Context, cmd *ferryv1.Command) (*ferryv1.Job, error) {
	res, err := e.node.Propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Job, nil
}

func outcome(err error) string {
	if err != nil {
		return "refused"
	}
	return "committed"
}

func jobResult(r mover.Result) *ferryv1.JobResult {
	out := &ferryv1.JobResult{Sha256: hex.EncodeToString(r.SHA256[:]), Bytes: uint64(r.Bytes)}
	for _, s := range r.Segments {
		out.Segments = append(out.Segments, &ferryv1.SegmentResult{Sha256: hex.EncodeToString(s.SHA256[:]), Bytes: uint64(s.Bytes)})
	}
	return out
}

// jobError keeps the failing segment and its sense data, so RECEIVE COPY
// RESULTS can report them.
func jobError(err error) *ferryv1.JobError {
	je := &ferryv1.JobError{Message: err.Error()}
	var se *mover.SegmentError
	if errors.As(err, &se) {
		je.Segment = uint32(se.Segment)
		je.SegmentBytesDone = uint64(se.Bytes)
		if se.Sense != nil {
			je.Sense = se.Sense.Fixed()
		}
	}
	var s *sense.Sense
	if je.Sense == nil && errors.As(err, &s) {
		je.Sense = s.Fixed()
	}
	return je
}
