package executor

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
)

// Node is what the executor needs of a cluster node; *cluster.Node has it.
type Node interface {
	Name() string
	Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error)
	FSM() *fsm.FSM
	// WatchJobs signals after any job changes.
	WatchJobs() (<-chan struct{}, func())
}

// Config tunes the executor. Zero values take the defaults.
type Config struct {
	// Mover tunes every copy: buffers, checkpoint cadence (default 64 MiB /
	// 1 s). OnCheckpoint and OnProgress are the executor's own.
	Mover mover.Config
	// Rescan is how often the executor looks for work even without a
	// change notification. Default 1s.
	Rescan time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the executor's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Executor runs the jobs this node accepted (and, after a restart, the ones
// it was running).
type Executor struct {
	node    Node
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	locks   *deviceLocks
	mu      sync.Mutex
	running map[string]context.CancelFunc
	wg      sync.WaitGroup
}

// New returns an executor for node; Run starts it.
func New(node Node, cfg Config) *Executor {
	if cfg.Rescan <= 0 {
		cfg.Rescan = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Executor{node: node, cfg: cfg, log: cfg.Logger.With("component", "executor"), metrics: newMetrics(cfg.Registerer), locks: newDeviceLocks(), running: map[string]context.CancelFunc{}}
}

// Run looks for work until ctx ends, then stops every copy (their last
// checkpoints stay committed: a restarted node resumes from them) and waits
// for them.
func (e *Executor) Run(ctx context.Context) {
	changed, stop := e.node.WatchJobs()
	defer stop()
	ticker := time.NewTicker(e.cfg.Rescan)
	defer ticker.Stop()
	for {
		e.scan(ctx)
		select {
		case <-ctx.Done():
			e.mu.Lock()
			for _, cancel := range e.running {
				cancel()
			}
			e.mu.Unlock()
			e.wg.Wait()
			return
		case <-changed:
		case <-ticker.C:
		}
	}
}

// scan starts the jobs this node should run and stops the ones it no longer
// owns (cancelled, or fenced off by a newer epoch).
func (e *Executor) scan(ctx context.Context) {
	me, reg := e.node.Name(), e.node.FSM()
	queued, _ := reg.Jobs(fsm.Query{State: ferryv1.JobState_JOB_STATE_QUEUED, SubmittedVia: me})
	running, _ := reg.Jobs(fsm.Query{State: ferryv1.JobState_JOB_STATE_RUNNING, Owner: me})
	mine := make(map[string]bool, len(queued)+len(running))
	for _, j := range append(queued, running...) {
		mine[j.GetId()] = true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, cancel := range e.running {
		if !mine[id] {
			cancel()
		}
	}
	for _, j := range append(running, queued...) {
		if _, active := e.running[j.GetId()]; active || ctx.Err() != nil || !e.mayStart(j) {
			continue
		}
		jctx, cancel := context.WithCancel(ctx)
		e.running[j.GetId()] = cancel
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.execute(jctx, j)
			e.mu.Lock()
			delete(e.running, j.GetId())
			e.mu.Unlock()
			cancel()
		}()
	}
}

// mayStart tells from this node's state whether a queued job's cartridges
// and drives look free, so that a job waiting for a busy cartridge costs no
// proposal per scan. The state machine has the final word.
func (e *Executor) mayStart(j *ferryv1.Job) bool {
	if j.GetState() != ferryv1.JobState_JOB_STATE_QUEUED {
		return true
	}
	barcodes, err := e.cartridgesOf(j.GetSpec())
	if err != nil {
		return true // let the start fail and the job record why
	}
	reg := e.node.FSM()
	for _, b := range barcodes {
		c, ok := reg.Cartridge(b)
		if !ok {
			return true
		}
		if c.GetLocation().GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE {
			return false
		}
		lib, ok := reg.Library(c.GetLibrary())
		if !ok {
			return true
		}
		free := false
		for _, el := range lib.GetElements() {
			free = free || el.GetKind() == ferryv1.ElementKind_ELEMENT_KIND_DRIVE && el.GetBarcode() == ""
		}
		if !free {
			return false
		}
	}
	return true
}

// execute claims the job, runs the mover and records the outcome.
func (e *Executor) execute(ctx context.Context, job *ferryv1.Job) {
	log := e.log.With("job", job.GetId())
	cartridges, err := e.cartridgesOf(job.GetSpec())
	if err != nil {
		// Without an epoch there is nothing to fence with: claim the job to
		// be able to fail it.
		cartridges = nil
	}
	start := func(cartridges []string) (*ferryv1.Job, error) {
		return e.propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_StartJob{StartJob: &ferryv1.StartJobOp{
			JobId: job.GetId(), Cartridges: cartridges,
		}}})
	}
	started, err := start(cartridges)
	if errors.Is(err, fsm.ErrNotFound) || errors.Is(err, fsm.ErrInvalid) {
		// A cartridge that cannot be loaded will never be: claim the job
		// without it, so that the copy fails and says why.
		started, err = start(nil)
	}
	if err != nil {
		if errors.Is(err, fsm.ErrBusy) {
			log.Debug("job waits", "reason", err)
		} else if ctx.Err() == nil {
			log.Warn("could not start job", "err", err)
		}
		return
	}
	epoch := started.GetEpoch()
	log = log.With("epoch", epoch)
	log.Info("running job", "cartridges", cartridges)

	res, runErr := e.copy(ctx, log, started, epoch)
	if ctx.Err() != nil {
		// Cancelled, fenced, or the node is stopping: the job's fate is
		// recorded elsewhere, or it resumes from its checkpoint.
		log.Info("job stopped", "why", context.Cause(ctx))
		return
	}
	finish := &ferryv1.FinishJobOp{JobId: job.GetId(), Epoch: epoch}
	if runErr != nil {
		finish.State = ferryv1.JobState_JOB_STATE_FAILED
		finish.Error = jobError(runErr)
		e.metrics.jobs.WithLabelValues("failed").Inc()
		log.Warn("job failed", "err", runErr)
	} else {
		finish.State = ferryv1.JobState_JOB_STATE_SUCCEEDED
		finish.Result = jobResult(res)
		e.metrics.jobs.WithLabelValues("succeeded").Inc()
		log.Info("job succeeded", "bytes", res.Bytes, "sha256", finish.Result.GetSha256())
	}
	if _, err := e.propose(context.WithoutCancel(ctx), &ferryv1.Command{Op: &ferryv1.Command_FinishJob{FinishJob: finish}}); err != nil {
		log.Error("could not record the job's end", "err", err)
	}
}

// copy opens the job's devices and runs its plan from the last checkpoint.
func (e *Executor) copy(ctx context.Context, log *slog.Logger, job *ferryv1.Job, epoch uint64) (mover.Result, error) {
	reg := e.node.FSM()
	reads, writes := devicePaths(reg, job.GetSpec())
	release, err := e.locks.acquire(ctx, reads, writes)
	if err != nil {
		return mover.Result{}, err
	}
	// Released after the devices are closed (defers run last first).
	defer release()
	o := &opened{}
	defer func() {
		if err := o.close(); err != nil {
			log.Warn("closing devices", "err", err)
		}
	}()
	spec := job.GetSpec()
	var plan mover.Plan
	var total int64 // bytes the plan moves, 0 when a tape source hides it
	if list := spec.GetXcopyParameterList(); len(list) > 0 {
		var err error
		if plan, err = e.xcopyPlan(reg, list, o); err != nil {
			return mover.Result{}, err
		}
	} else {
		if err := o.openEndpoint(reg, spec.GetSource(), false); err != nil {
			return mover.Result{}, err
		}
		if err := o.openEndpoint(reg, spec.GetDestination(), true); err != nil {
			return mover.Result{}, err
		}
		var err error
		if plan, total, err = endpointPlan(spec, o.devs); err != nil {
			return mover.Result{}, err
		}
	}
	var resume *mover.Checkpoint
	if b := job.GetCheckpoint(); len(b) > 0 {
		resume = &mover.Checkpoint{}
		if err := resume.UnmarshalBinary(b); err != nil {
			return mover.Result{}, fmt.Errorf("job's checkpoint: %w", err)
		}
		log.Info("resuming from checkpoint", "segment", resume.Segment, "bytes", resume.BytesDone)
	}
	cfg := e.cfg.Mover
	cfg.Logger = log
	if bw := spec.GetOptions().GetBwlimitBytesPerSecond(); bw > 0 {
		cfg.BandwidthLimit = int64(bw)
	}
	if n := spec.GetOptions().GetCheckpointIntervalBytes(); n > 0 {
		cfg.CheckpointBytes = int64(n)
	}
	segments := uint32(len(plan.Segments))
	cfg.OnCheckpoint = func(ctx context.Context, cp mover.Checkpoint) error {
		b, err := cp.MarshalBinary()
		if err != nil {
			return err
		}
		_, err = e.propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_CheckpointJob{CheckpointJob: &ferryv1.CheckpointJobOp{
			JobId: job.GetId(), Epoch: epoch, Checkpoint: b,
			Progress: &ferryv1.JobProgress{BytesDone: uint64(cp.BytesDone), BytesTotal: uint64(max(total, 0)), SegmentsDone: uint32(cp.Segment),
				SegmentsTotal: segments, CheckpointOffset: uint64(cp.BytesDone)},
		}}})
		e.metrics.checkpoints.WithLabelValues(outcome(err)).Inc()
		return err
	}
	var last int64
	cfg.OnProgress = func(p mover.Progress) {
		e.metrics.bytes.Add(float64(p.Bytes - last))
		last = p.Bytes
	}
	if resume != nil {
		last = resume.BytesDone
	}
	res, err := mover.Run(ctx, cfg, plan, o.devs, resume)
	if err == nil && spec.GetOptions().GetVerify() && len(spec.GetXcopyParameterList()) == 0 {
		err = verifyCopy(plan, o.devs[1], res)
	}
	return res, err
}

// cartridgesOf lists the barcodes a job needs loaded, without opening them.
func (e *Executor) cartridgesOf(spec *ferryv1.JobSpec) ([]string, error) {
	var out []string
	if list := spec.GetXcopyParameterList(); len(list) > 0 {
		return xcopyCartridges(e.node.FSM(), list)
	}
	for _, ep := range []*ferryv1.Endpoint{spec.GetSource(), spec.GetDestination()} {
		dev, err := e.node.FSM().ResolveDevice(ep.GetDevice())
		if err != nil {
			return nil, err
		}
		if dev.Cartridge != nil {
			out = append(out, dev.Cartridge.GetBarcode())
		}
	}
	return out, nil
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

type metrics struct {
	jobs        *prometheus.CounterVec
	checkpoints *prometheus.CounterVec
	bytes       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_executor_jobs_total", Help: "Jobs this node ran to an end, by outcome."}, []string{"outcome"}),
		checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_executor_checkpoints_total", Help: "Checkpoints proposed by this node, committed or refused (fenced)."},
			[]string{"result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "ferry_mover_bytes_total", Help: "Bytes the mover on this node copied."}),
	}
	if reg != nil {
		reg.MustRegister(m.jobs, m.checkpoints, m.bytes)
	}
	return m
}
