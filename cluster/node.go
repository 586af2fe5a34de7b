package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/cluster/raftlog"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// LogFileName is the name of the node's bbolt file inside its data dir.
const LogFileName = "raft.db"

// ErrForeignCluster means the data dir belongs to another node or cluster.
var ErrForeignCluster = errors.New("data dir belongs elsewhere")

// ErrRemoved is reported on Node.Done when this node was removed from the
// cluster's Raft configuration.
var ErrRemoved = errors.New("this node was removed from the cluster")

// Node is one running member of a Ferry cluster.
type Node struct {
	cfg       Config
	log       *slog.Logger
	store     *raftlog.Store
	fsm       *fsm.FSM
	id        uint64
	clusterID string

	raft      raft.Node
	transport *Transport
	gossip    *Gossip
	// stopReconnect ends the reconnector; reconnectDone closes once it has.
	stopReconnect context.CancelFunc
	reconnectDone chan struct{}
	leases        leaseClient
	metrics       *metrics

	proposals *waitSet[fsm.Result]
	reads     *waitSet[uint64]
	applied   appliedIndex
	jobs      *jobBroker
	observers applyObservers
	leader    *watched[leaderState]
	// confChanged fires after each applied membership change.
	confChanged *watched[uint64]

	mu            sync.RWMutex
	confState     *raftpb.ConfState
	snapshotIndex uint64

	readSeq atomic.Uint64

	// keyringIndex is the index of the entry that made this node's gossip
	// keyring (gossip.keyring), owned by the apply loop (keyring.go).
	keyringIndex uint64
	// keyringChanged wakes the reconnector after a keyring change.
	keyringChanged chan struct{}

	// applyMu orders applying entries and installing a snapshot, which run
	// on the apply and append loops.
	applyMu sync.Mutex
	// Owned by the append loop: the HardState last written, and one whose
	// write was deferred because only its commit index moved.
	durable, pendingHS *raftpb.HardState

	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}
	errMu    sync.Mutex
	err      error
}

// Start opens the node's log, joins gossip, and starts Raft. It returns once
// the node runs; it does not wait for a leader.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg.setDefaults()
	if cfg.NodeName == "" {
		return nil, errors.New("cluster: node name is required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("cluster: data dir is required")
	}
	if cfg.Reconnect.Interval < 0 || cfg.Reconnect.Timeout < 0 {
		return nil, errors.New("cluster: reconnect interval and timeout must be positive")
	}
	path := filepath.Join(cfg.DataDir, LogFileName)
	store, err := raftlog.Open(path, raftlog.Options{})
	if err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	n := &Node{
		cfg:         cfg,
		log:         cfg.Logger.With("node", cfg.NodeName),
		store:       store,
		fsm:         fsm.New(),
		proposals:   newWaitSet[fsm.Result](),
		reads:       newWaitSet[uint64](),
		applied:     newAppliedIndex(),
		jobs:        newJobBroker(),
		leader:      newWatched[leaderState](),
		confChanged: newWatched[uint64](),
		stopc:       make(chan struct{}),
		done:        make(chan struct{}),

		keyringChanged: make(chan struct{}, 1),
	}
	if err := n.start(ctx); err != nil {
		n.shutdownResources()
		return nil, err
	}
	return n, nil
}

func (n *Node) start(ctx context.Context) error {
	ident, known, err := n.store.Identity()
	if err != nil {
		return fmt.Errorf("read node identity: %w", err)
	}
	if known && ident.NodeName != n.cfg.NodeName {
		return fmt.Errorf("%w: data dir %s belongs to node %q, not %q", ErrForeignCluster, n.cfg.DataDir, ident.NodeName, n.cfg.NodeName)
	}
	if known && ident.ClusterName != n.cfg.ClusterName {
		return fmt.Errorf("%w: data dir %s belongs to cluster %q, not %q", ErrForeignCluster, n.cfg.DataDir, ident.ClusterName, n.cfg.ClusterName)
	}
	if !known {
		ident = raftlog.Identity{NodeName: n.cfg.NodeName, ClusterName: n.cfg.ClusterName, RaftID: randomID()}
	}
	n.id = ident.RaftID
	n.clusterID = ident.ClusterID
	n.metrics = newMetrics(n)
	n.transport = newTransport(n)

	keys, err := n.startingGossipKeys()
	if err != nil {
		return err
	}
	n.gossip, err = startGossip(n.gossipConfig(keys))
	if err != nil {
		return fmt.Errorf("start gossip: %w", err)
	}

	bootstrap := !known && len(n.cfg.Join) == 0
	switch {
	case bootstrap:
		ident.ClusterID = uuid.NewString()
		n.clusterID = ident.ClusterID
	case !known:
		if err := n.gossip.JoinAsNewcomer(n.cfg.Join); err != nil {
			return fmt.Errorf("join %s: %w%s", strings.Join(n.cfg.Join, ","), err, keyHint(err.Error()))
		}
		if ident.ClusterID, err = n.gossip.WaitClusterID(ctx); err != nil {
			return err
		}
		n.clusterID = ident.ClusterID
	case len(n.cfg.Join) > 0:
		// A known node told to join: make sure it is its own cluster. If
		// nobody answers (a whole-cluster restart), the reconnector keeps trying.
		if err := n.gossip.Join(n.cfg.Join); err != nil {
			n.log.Warn("no member answered; reconnecting in the background", "join", strings.Join(n.cfg.Join, ","), "err", err.Error()+keyHint(err.Error()))
		} else {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			other, err := n.gossip.WaitClusterID(wctx)
			cancel()
			if err == nil && other != n.clusterID {
				return fmt.Errorf("%w: data dir %s belongs to cluster %s, but the members at %s belong to cluster %s",
					ErrForeignCluster, n.cfg.DataDir, n.clusterID, strings.Join(n.cfg.Join, ","), other)
			}
		}
	}
	if err := n.gossip.SetClusterID(n.clusterID); err != nil {
		return err
	}
	if !known {
		if err := n.store.SetIdentity(ident); err != nil {
			return fmt.Errorf("save node identity: %w", err)
		}
	}
	n.gossip.Established()

	if n.durable, _, err = n.store.InitialState(); err != nil {
		return fmt.Errorf("read raft hard state: %w", err)
	}

	rc := &raft.Config{
		ID:            n.id,
		ElectionTick:  n.cfg.ElectionTicks,
		HeartbeatTick: n.cfg.HeartbeatTicks,
		Storage:       n.store,
		MaxSizePerMsg: 1 << 20,
		// Log writes and applies run beside the Ready loop: see run.
		AsyncStorageWrites: true,
		MaxInflightMsgs:    256,
		CheckQuorum:        true,
		PreVote:            true,
		ReadOnlyOption:     raft.ReadOnlySafe,
		Logger:             raftLogger{n.log.With("component", "raft")},
		// A removed leader must not linger as leader of a cluster it left.
		StepDownOnRemoval: true,
	}
	if bootstrap {
		self, err := proto.Marshal(n.nodeInfo())
		if err != nil {
			return err
		}
		n.confState = &raftpb.ConfState{}
		n.raft = raft.StartNode(rc, []raft.Peer{{ID: n.id, Context: self}})
		n.log.Info("bootstrapped a new cluster", "cluster_id", n.clusterID, "raft_id", fmt.Sprintf("%x", n.id))
	} else {
		if err := n.restoreFromSnapshot(); err != nil {
			return err
		}
		// A snapshot newer than the keyring file (a crash between the
		// two): the replayed entries after it follow.
		n.syncGossipKeys(n.applied.get())
		rc.Applied = n.applied.get()
		n.raft = raft.RestartNode(rc)
		n.log.Info("started raft", "cluster_id", n.clusterID, "raft_id", fmt.Sprintf("%x", n.id), "applied", rc.Applied)
	}
	// On a whole-cluster restart the peers may not be up yet, and after a
	// partition gossip does not heal by itself: keep reaching out.
	n.startReconnect()
	go n.run()
	go n.runMembership()
	go n.describeSelf()
	return nil
}

// restoreFromSnapshot loads the state machine from the stored snapshot so that
// Raft only replays the entries after it.
func (n *Node) restoreFromSnapshot() error {
	snap, err := n.store.Snapshot()
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	n.confState = &raftpb.ConfState{}
	if raft.IsEmptySnap(snap) {
		return nil
	}
	idx := snap.GetMetadata().GetIndex()
	if err := n.fsm.Restore(snap.GetData(), idx); err != nil {
		return fmt.Errorf("restore state from snapshot at index %d: %w", idx, err)
	}
	n.confState = proto.Clone(snap.GetMetadata().GetConfState()).(*raftpb.ConfState)
	n.snapshotIndex = idx
	n.applied.set(idx)
	return nil
}

func (n *Node) nodeInfo() *ferryv1.NodeInfo {
	return &ferryv1.NodeInfo{
		Name:        n.cfg.NodeName,
		RaftId:      n.id,
		Site:        n.cfg.Site,
		GrpcAddr:    n.cfg.GRPCAddr,
		HttpAddr:    n.cfg.HTTPAddr,
		GossipAddr:  fmt.Sprintf("%s:%d", n.cfg.AdvertiseAddr, n.cfg.GossipAdvertisePort),
		Reach:       n.cfg.Reach,
		Mover:       n.cfg.Mover,
		IscsiPortal: n.cfg.ISCSIPortal,
		IscsiTarget: n.cfg.ISCSITarget,
	}
}

// startReconnect runs the reconnector until the node stops. It decides from
// gossip and from the replicated state, which fills in as the log replays.
func (n *Node) startReconnect() {
	r := &reconnector{
		cfg: n.cfg.Reconnect,
		view: func() reconnectView {
			return reconnectView{
				self: n.id, selfName: n.cfg.NodeName, selfAddr: n.gossip.LocalAddr(), clusterID: n.clusterID,
				members: n.gossip.Members(), known: n.fsm.Nodes(), join: n.cfg.Join, timeout: n.cfg.Reconnect.Timeout,
			}
		},
		join:     n.gossip.rejoin,
		wake:     n.keyringChanged,
		attempts: n.metrics.gossipReconnects,
		log:      n.log.With("component", "gossip"),
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.stopReconnect, n.reconnectDone = cancel, make(chan struct{})
	go func() {
		defer close(n.reconnectDone)
		r.run(ctx)
	}()
}

func randomID() uint64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		if id := binary.BigEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// ID returns this node's Raft id.
func (n *Node) ID() uint64 { return n.id }

// Name returns this node's name.
func (n *Node) Name() string { return n.cfg.NodeName }

// Serving is how this node serves gRPC and Raft: mutual TLS when it has
// a TLS store (Config.TLS), plaintext otherwise.
func (n *Node) Serving() ferryv1.Transport {
	if n.cfg.TLS == nil {
		return ferryv1.Transport_TRANSPORT_PLAINTEXT
	}
	return ferryv1.Transport_TRANSPORT_MTLS
}

// ClusterID returns the id of the cluster this node belongs to.
func (n *Node) ClusterID() string { return n.clusterID }

// FSM returns the node's replicated state machine for reads. Reads of it are
// as fresh as this node's applied index; call LinearizableRead first for a
// linearizable read.
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Transport returns the gRPC service that receives Raft messages from peers;
// the caller registers it on its gRPC server.
func (n *Node) Transport() ferryv1.RaftTransportServer { return n.transport }

// Done is closed when the node stops, by Stop or by a fatal error (see Err).
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns why the node stopped, or nil.
func (n *Node) Err() error {
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.err
}

func (n *Node) fail(err error) {
	n.errMu.Lock()
	if n.err == nil {
		n.err = err
	}
	n.errMu.Unlock()
	n.log.Error("node stopping", "err", err)
	n.stop()
}

func (n *Node) stop() { n.stopOnce.Do(func() { close(n.stopc) }) }

// Stop leaves gossip, stops Raft and closes the log. A graceful leave lets the
// others see the node as left rather than dead.
func (n *Node) Stop() {
	n.stop()
	<-n.done
}

func (n *Node) shutdownResources() {
	if n.stopReconnect != nil {
		// No new join may start once this node has left.
		n.stopReconnect()
		<-n.reconnectDone
	}
	if n.gossip != nil {
		n.gossip.Leave(time.Second)
	}
	if n.transport != nil {
		n.transport.close()
	}
	if err := n.leases.close(); err != nil {
		n.log.Debug("close lease connections", "err", err)
	}
	if n.raft != nil {
		n.raft.Stop()
	}
	if err := n.store.Close(); err != nil {
		n.log.Warn("close raft log", "err", err)
	}
}
