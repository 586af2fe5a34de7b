package iscsitarget

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/ferry-san/ferry/iscsi"
	"github.com/ferry-san/ferry/rpc/copymanager"
	"github.com/ferry-san/ferry/scsi/sbc"
)

// DefaultTargetName is the target name of a cluster: the prefix, then the
// cluster's name.
const DefaultTargetName = "iqn.2026-11.io.ferry:"

// lunRetry is how often the target tries again, without a change of the
// state machine, to open the registered disks it could not open (a file
// not yet reachable from this node).
const lunRetry = 5 * time.Second

// Node is what the target needs of its cluster node; *cluster.Node has it.
type Node interface {
	copymanager.Node
	// WatchApplied returns a channel closed once the node has applied a
	// change of its state machine after the call.
	WatchApplied() <-chan struct{}
	reservationNode
}

// Config configures a Target.
type Config struct {
	// TargetName is the target's iSCSI name. Required.
	TargetName string
	// RelativePortID identifies this node's portal among the target's
	// ports (VPD page 83h): each node's must differ, so that a multipath
	// initiator tells the paths apart. Default 1.
	RelativePortID uint16
	// CHAP, when set, makes initiators authenticate (one-way, or mutual
	// with its Mutual fields). Default: none.
	CHAP *iscsi.CHAPConfig
	// CHAPFrom, when set, is asked at each login instead (iscsi.Config):
	// the cluster's iscsi-chap secret, rotated without a restart.
	CHAPFrom func() *iscsi.CHAPConfig
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Target is a node's iSCSI target.
type Target struct {
	node  Node
	cfg   Config
	log   *slog.Logger
	luns  *lunSet
	res   *reservations
	iscsi *iscsi.Target
}

// New returns the node's target; Serve runs it.
func New(node Node, cfg Config) (*Target, error) {
	if cfg.TargetName == "" {
		return nil, fmt.Errorf("iscsitarget: target name required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("component", "iscsi")
	res := newReservations(node, max(cfg.RelativePortID, 1), log)
	server := sbc.New(sbc.Config{RelativePortID: cfg.RelativePortID, TargetName: cfg.TargetName, Logger: cfg.Logger,
		Reservations: res}, copymanager.New(node, cfg.Logger))
	t := &Target{node: node, cfg: cfg, log: log, luns: newLUNSet(server, log), res: res}
	ic := iscsi.DefaultConfig()
	ic.TargetName = cfg.TargetName
	ic.Server = server
	ic.Portals = t.portals
	ic.CHAP = cfg.CHAP
	ic.CHAPFrom = cfg.CHAPFrom
	ic.Logger = cfg.Logger
	var err error
	if t.iscsi, err = iscsi.NewTarget(ic); err != nil {
		return nil, err
	}
	// PREEMPT AND ABORT aborts the preempted initiators' tasks through it.
	server.SetTaskAborter(t.iscsi)
	return t, nil
}

// Serve presents the cluster's disks and answers initiators on ln until
// ctx ends.
func (t *Target) Serve(ctx context.Context, ln net.Listener) error {
	t.res.start(ctx, t.luns.server)
	defer t.res.close()
	// The disks registered so far are LUNs before the first login.
	applied := t.node.WatchApplied()
	t.luns.sync(t.node.FSM().Disks())
	followCtx, stopFollowing := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		t.followDisks(followCtx, applied)
	}()
	// The LUNs are closed once nothing syncs them any more.
	defer func() { stopFollowing(); <-followed }()
	t.log.Info("iSCSI target serving", "target", t.cfg.TargetName, "portal", ln.Addr().String())
	return t.iscsi.Serve(ctx, ln)
}

// followDisks presents a disk as a LUN as soon as its registration is
// applied on this node, and drops it as soon as its removal is, until ctx
// ends; then it closes them all. applied is the watch taken before the
// last sync.
func (t *Target) followDisks(ctx context.Context, applied <-chan struct{}) {
	defer t.luns.close()
	retry := time.NewTicker(lunRetry)
	defer retry.Stop()
	// The first change syncs: the disks were read before this version.
	version := ^uint64(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-applied:
			// Watch before reading, so that no change slips in between.
			applied = t.node.WatchApplied()
			v := t.node.FSM().DisksVersion()
			if v == version {
				// Most entries change no disk: a site's thousands of
				// disks are not copied for each of them.
				continue
			}
			version = v
		case <-retry.C:
			applied = t.node.WatchApplied()
			version = t.node.FSM().DisksVersion()
		}
		t.luns.sync(t.node.FSM().Disks())
	}
}

// Shutdown asks initiators to log out, so that multipath ones move to
// another node's portal, then stops the target once they have or ctx ends.
func (t *Target) Shutdown(ctx context.Context) error { return t.iscsi.Shutdown(ctx) }

// portals lists every node's portal of this target, for SendTargets, in
// one target portal group: any of them reaches the same LUNs.
func (t *Target) portals() []string {
	var out []string
	for _, n := range t.node.FSM().Nodes() {
		if n.GetIscsiTarget() == t.cfg.TargetName && n.GetIscsiPortal() != "" {
			out = append(out, n.GetIscsiPortal()+",1")
		}
	}
	slices.Sort(out)
	return out
}
