package ndmpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/executor"
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scheduler"
	"github.com/ferry-san/ferry/storage/library"
)

// The Cluster of a running node: every robot move and tape open is a Raft
// entry of the state machine copy jobs use (cluster/fsm's MoveMediumOp and
// OpenNdmpSessionOp), and a drive's writes run under the executor's write
// guard (executor.Session): this node's lease, and the cartridge's fence
// claimed at the session's epoch.

// clusterNode is what the NDMP server needs of its node; *cluster.Node
// has it.
type clusterNode interface {
	Name() string
	FSM() *fsm.FSM
	Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error)
	LinearizableRead(ctx context.Context) error
}

// sessions opens NDMP sessions' cartridges; *executor.Executor does.
type sessions interface {
	OpenSession(ctx context.Context, job *ferryv1.Job) (*executor.Session, error)
}

// proposeTimeout bounds one Raft entry of the robot or a drive: a DMA
// waits for its reply.
const proposeTimeout = 30 * time.Second

// NewNodeCluster is the Cluster of a running node; exec runs its sessions
// under this node's lease.
func NewNodeCluster(node *cluster.Node, exec *executor.Executor, log *slog.Logger) Cluster {
	return newNodeCluster(node, exec, log)
}

func newNodeCluster(node clusterNode, exec sessions, log *slog.Logger) *nodeCluster {
	if log == nil {
		log = slog.Default()
	}
	return &nodeCluster{node: node, exec: exec, log: log.With("component", "ndmp-cluster")}
}

type nodeCluster struct {
	node clusterNode
	exec sessions
	log  *slog.Logger
}

func (c *nodeCluster) NodeName() string { return c.node.Name() }

// self is this node as reach rules see it: what it reaches is what its
// record in the replicated state says.
func (c *nodeCluster) self() scheduler.NodeView {
	n, _ := c.node.FSM().NodeByName(c.node.Name())
	return scheduler.NodeView{Name: c.node.Name(), Site: n.GetSite(), Reach: n.GetReach()}
}

// reaches reports whether this node reaches any drive of the library.
func reaches(n scheduler.NodeView, lib *ferryv1.Library) bool {
	for d := range lib.GetDrives() {
		if n.ReachesDrive(lib, d) {
			return true
		}
	}
	return false
}

func (c *nodeCluster) Libraries(ctx context.Context) ([]LibraryView, error) {
	if err := c.node.LinearizableRead(ctx); err != nil {
		return nil, fmt.Errorf("read the cluster's libraries: %w", err)
	}
	reg := c.node.FSM()
	me := c.self()
	var out []LibraryView
	for _, l := range reg.Libraries() {
		if !reaches(me, l) {
			continue
		}
		inv, place, ok := reg.LibraryPlacement(l.GetName())
		if !ok {
			continue // removed since the listing
		}
		v := LibraryView{State: place, Holders: map[int]string{}, Busy: map[string]string{}}
		for _, e := range inv.GetElements() {
			if e.GetKind() != ferryv1.ElementKind_ELEMENT_KIND_DRIVE || e.GetJobId() == "" {
				continue
			}
			who := "copy job " + e.GetJobId()
			if j, ok := reg.Job(e.GetJobId()); ok && fsm.IsNDMP(j) {
				s := j.GetSpec().GetNdmp()
				who = fmt.Sprintf("NDMP session from %s on %s", s.GetDmaAddress(), s.GetNode())
			}
			v.Holders[int(e.GetIndex())] = who
			if b := e.GetBarcode(); b != "" {
				v.Busy[b] = "held by " + who
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// library finds a library this node reaches.
func (c *nodeCluster) library(name string) (*ferryv1.Library, error) {
	l, ok := c.node.FSM().Library(name)
	if !ok || !reaches(c.self(), l) {
		return nil, fmt.Errorf("library %q: %w", name, ErrNoDevice)
	}
	return l, nil
}

func (c *nodeCluster) Move(ctx context.Context, lib string, from, to library.Location, dma string) error {
	if _, err := c.library(lib); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	res, err := c.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_MoveMedium{MoveMedium: &ferryv1.MoveMediumOp{
		Library: lib, From: fsm.ElementOf(from), To: fsm.ElementOf(to), DmaAddress: dma}}})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return clusterError(err)
	}
	c.log.Info("DMA moved a cartridge", "library", lib, "barcode", res.Cartridge.GetBarcode(), "from", from, "to", to, "dma", dma)
	return nil
}

// clusterError maps the state machine's refusals onto the server's
// sentinels; the library package's stay wrapped for the SCSI sense.
func clusterError(err error) error {
	switch {
	case errors.Is(err, fsm.ErrHeld):
		return fmt.Errorf("%w: %w", ErrHeld, err)
	case errors.Is(err, fsm.ErrNoTape):
		return fmt.Errorf("%w: %w", ErrNoTape, err)
	case errors.Is(err, fsm.ErrWriteProtected):
		return fmt.Errorf("%w: %w", ErrWriteProtected, err)
	case errors.Is(err, fsm.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	return err
}

func (c *nodeCluster) OpenDrive(ctx context.Context, req DriveRequest) (Drive, error) {
	l, err := c.library(req.Library)
	if err != nil {
		return nil, err
	}
	if req.Drive < 0 || uint32(req.Drive) >= l.GetDrives() || !c.self().ReachesDrive(l, uint32(req.Drive)) {
		return nil, fmt.Errorf("drive %s/%d: %w", req.Library, req.Drive, ErrNoDevice)
	}
	pctx, cancel := context.WithTimeout(ctx, proposeTimeout)
	defer cancel()
	res, err := c.node.Propose(pctx, &ferryv1.Command{Op: &ferryv1.Command_OpenNdmpSession{OpenNdmpSession: &ferryv1.OpenNdmpSessionOp{
		JobId: uuid.NewString(), Session: &ferryv1.NdmpSession{DmaAddress: req.DMA, Node: c.node.Name(),
			Library: req.Library, Drive: uint32(req.Drive), ReadWrite: req.ReadWrite}}}})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return nil, clusterError(err)
	}
	s, err := c.exec.OpenSession(ctx, res.Job)
	if err != nil {
		// The session never held the cartridge: its job ends now, with
		// why, rather than wait for this node's lease to lapse.
		c.fail(res.Job, err)
		return nil, fmt.Errorf("open %s in drive %s/%d: %w", res.Job.GetSpec().GetNdmp().GetBarcode(), req.Library, req.Drive, err)
	}
	return nodeDrive{s}, nil
}

// fail ends a session's job that could not open its cartridge.
func (c *nodeCluster) fail(j *ferryv1.Job, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), proposeTimeout)
	defer cancel()
	res, err := c.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_FinishJob{FinishJob: &ferryv1.FinishJobOp{
		JobId: j.GetId(), Epoch: j.GetEpoch(), State: ferryv1.JobState_JOB_STATE_FAILED,
		Error: &ferryv1.JobError{Message: "the cartridge did not open: " + cause.Error()}}}})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		c.log.Warn("could not record the failed tape open", "job", j.GetId(), "err", err)
	}
}

// nodeDrive is a session's cartridge as the TAPE service sees it.
type nodeDrive struct{ *executor.Session }

// Release ends the session: its bytes and files are recorded, the
// cartridge stays in the drive.
func (d nodeDrive) Release(ctx context.Context) error { return d.End(ctx) }
