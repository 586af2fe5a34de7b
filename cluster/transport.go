package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

const (
	// peerQueueLen bounds the messages waiting for one peer; beyond it they
	// are dropped and the peer reported unreachable, which Raft tolerates.
	peerQueueLen = 4096
	// maxBatchBytes keeps one batch well under gRPC's 4 MiB message limit.
	maxBatchBytes = 2 << 20
	// snapshotChunk is the size of each piece of a streamed snapshot.
	snapshotChunk = 1 << 20
	// maxSnapshotBytes refuses absurd snapshots instead of exhausting memory.
	maxSnapshotBytes = 1 << 30
)

// Transport sends Raft messages to peers over long-lived gRPC streams, one
// sender goroutine per peer, and receives theirs as the RaftTransport service.
type Transport struct {
	ferryv1.UnimplementedRaftTransportServer
	n *Node

	mu     sync.Mutex
	peers  map[uint64]*peer
	closed bool
}

func newTransport(n *Node) *Transport { return &Transport{n: n, peers: map[uint64]*peer{}} }

// send queues messages; it never blocks the Ready loop.
func (t *Transport) send(msgs []*raftpb.Message) {
	for _, m := range msgs {
		p := t.peer(m.GetTo())
		if p == nil {
			continue
		}
		if m.GetType() == raftpb.MsgSnap {
			p.sendSnapshot(m)
			continue
		}
		select {
		case p.queue <- m:
		default:
			t.n.metrics.peerDrops.Inc()
			t.n.raft.ReportUnreachable(m.GetTo())
		}
	}
}

func (t *Transport) peer(id uint64) *peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	p, ok := t.peers[id]
	if !ok {
		p = &peer{id: id, t: t, queue: make(chan *raftpb.Message, peerQueueLen), stopc: make(chan struct{})}
		t.peers[id] = p
		go p.run()
	}
	return p
}

func (t *Transport) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, p := range t.peers {
		close(p.stopc)
	}
}

// resolve finds a peer's gRPC address: gossip has the freshest one, the
// replicated membership remembers peers gossip has not seen yet.
func (t *Transport) resolve(id uint64) (string, bool) {
	if m, ok := t.n.gossip.MemberByID(id); ok && m.GRPCAddr != "" {
		return m.GRPCAddr, true
	}
	if ni, ok := t.n.fsm.Node(id); ok && ni.GetGrpcAddr() != "" {
		return ni.GetGrpcAddr(), true
	}
	return "", false
}

type peer struct {
	id    uint64
	t     *Transport
	queue chan *raftpb.Message
	stopc chan struct{}

	connMu sync.Mutex
	addr   string
	conn   *grpc.ClientConn

	snapMu      sync.Mutex
	snapSending bool
}

func (p *peer) client() (ferryv1.RaftTransportClient, error) {
	addr, ok := p.t.resolve(p.id)
	if !ok {
		return nil, fmt.Errorf("no address known for peer %x", p.id)
	}
	p.connMu.Lock()
	defer p.connMu.Unlock()
	if p.conn != nil && p.addr != addr {
		p.conn.Close()
		p.conn = nil
	}
	if p.conn == nil {
		conn, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(p.t.n.dialCredentials(p.t.n.nameOf(p.id))),
			peerConnectParams,
			grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 5 * time.Second, Timeout: 2 * time.Second, PermitWithoutStream: true}),
		)
		if err != nil {
			return nil, err
		}
		p.conn, p.addr = conn, addr
	}
	return ferryv1.NewRaftTransportClient(p.conn), nil
}

func (p *peer) run() {
	defer func() {
		p.connMu.Lock()
		if p.conn != nil {
			p.conn.Close()
		}
		p.connMu.Unlock()
	}()
	backoff := 50 * time.Millisecond
	for {
		err := p.stream()
		select {
		case <-p.stopc:
			return
		default:
		}
		if err != nil {
			p.t.n.log.Debug("raft stream to peer broke", "peer", p.t.n.nameOf(p.id), "err", err)
			p.t.n.raft.ReportUnreachable(p.id)
			p.t.n.metrics.peerFailures.Inc()
			p.drain()
		}
		select {
		case <-p.stopc:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// drain drops what queued up while the peer was unreachable: Raft resends
// what still matters, and stale proposals or votes would only get in the way.
func (p *peer) drain() {
	for {
		select {
		case <-p.queue:
		default:
			return
		}
	}
}

// peerConnectParams cap gRPC's reconnection backoff between nodes at a
// second, as the transport's own retries are: gRPC's default grows to two
// minutes, and a node restarted after a few seconds down was heard from by
// the leader (and so caught up, ready, and running its copies) only when
// that backoff ran out, 3 s after its restart in make demo.
var peerConnectParams = grpc.WithConnectParams(grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
	MinConnectTimeout: 5 * time.Second,
})

// ServerOptions are the options a gRPC server carrying the Raft transport
// needs: peers ping idle streams every few seconds so that a dead peer is
// noticed, and gRPC's default keepalive policy would reject those pings and
// drop the connection.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true})}
}

// stream holds one gRPC stream open and sends batches on it until it fails.
func (p *peer) stream() error {
	cli, err := p.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := cli.Send(ctx)
	if err != nil {
		return err
	}
	batch := &ferryv1.RaftBatch{ClusterId: p.t.n.clusterID, From: p.t.n.id, To: p.id}
	for {
		var first *raftpb.Message
		select {
		case first = <-p.queue:
		case <-p.stopc:
			return nil
		}
		batch.Messages = batch.Messages[:0]
		size := 0
		for m := first; m != nil; {
			b, err := proto.Marshal(m)
			if err != nil {
				return fmt.Errorf("encode raft message: %w", err)
			}
			batch.Messages = append(batch.Messages, b)
			size += len(b)
			m = nil
			if size < maxBatchBytes {
				select {
				case m = <-p.queue:
				default:
				}
			}
		}
		if err := s.Send(batch); err != nil {
			if errors.Is(err, io.EOF) {
				_, err = s.CloseAndRecv()
			}
			return err
		}
	}
}

func (p *peer) sendSnapshot(m *raftpb.Message) {
	p.snapMu.Lock()
	if p.snapSending {
		p.snapMu.Unlock()
		return
	}
	p.snapSending = true
	p.snapMu.Unlock()
	go func() {
		defer func() {
			p.snapMu.Lock()
			p.snapSending = false
			p.snapMu.Unlock()
		}()
		status := raft.SnapshotFinish
		if err := p.streamSnapshot(m); err != nil {
			p.t.n.log.Warn("sending snapshot failed", "peer", p.t.n.nameOf(p.id), "err", err)
			status = raft.SnapshotFailure
			p.t.n.raft.ReportUnreachable(p.id)
		} else {
			p.t.n.metrics.snapshots.WithLabelValues("sent").Inc()
		}
		p.t.n.raft.ReportSnapshot(p.id, status)
	}()
}

func (p *peer) streamSnapshot(m *raftpb.Message) error {
	cli, err := p.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := cli.Snapshot(ctx)
	if err != nil {
		return err
	}
	data := m.GetSnapshot().GetData()
	head := proto.Clone(m).(*raftpb.Message)
	head.Snapshot.Data = nil
	hb, err := proto.Marshal(head)
	if err != nil {
		return err
	}
	chunk := &ferryv1.SnapshotChunk{ClusterId: p.t.n.clusterID, Message: hb}
	for {
		n := min(len(data), snapshotChunk)
		chunk.Data, data = data[:n], data[n:]
		chunk.Last = len(data) == 0
		if err := s.Send(chunk); err != nil {
			if errors.Is(err, io.EOF) {
				_, err = s.CloseAndRecv()
			}
			return err
		}
		if chunk.Last {
			break
		}
		chunk.Message = nil
	}
	_, err = s.CloseAndRecv()
	return err
}

// Send receives a peer's stream of Raft message batches.
func (t *Transport) Send(s grpc.ClientStreamingServer[ferryv1.RaftBatch, ferryv1.RaftAck]) error {
	for {
		batch, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return s.SendAndClose(&ferryv1.RaftAck{})
		}
		if err != nil {
			return err
		}
		if err := t.admit(s.Context(), batch.GetClusterId(), batch.GetFrom()); err != nil {
			return err
		}
		for _, b := range batch.GetMessages() {
			m := &raftpb.Message{}
			if err := proto.Unmarshal(b, m); err != nil {
				return status.Errorf(codes.InvalidArgument, "decode raft message: %v", err)
			}
			t.step(s.Context(), m)
		}
	}
}

// Snapshot receives one snapshot streamed in chunks.
func (t *Transport) Snapshot(s grpc.ClientStreamingServer[ferryv1.SnapshotChunk, ferryv1.RaftAck]) error {
	var head *raftpb.Message
	var data bytes.Buffer
	for {
		c, err := s.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return status.Error(codes.InvalidArgument, "snapshot stream ended before its last chunk")
			}
			return err
		}
		if head == nil {
			head = &raftpb.Message{}
			if err := proto.Unmarshal(c.GetMessage(), head); err != nil || head.GetType() != raftpb.MsgSnap || head.GetSnapshot() == nil {
				return status.Error(codes.InvalidArgument, "first snapshot chunk does not carry a MsgSnap")
			}
			if err := t.admit(s.Context(), c.GetClusterId(), head.GetFrom()); err != nil {
				return err
			}
		}
		if data.Len()+len(c.GetData()) > maxSnapshotBytes {
			return status.Errorf(codes.ResourceExhausted, "snapshot larger than %d bytes", maxSnapshotBytes)
		}
		data.Write(c.GetData())
		if c.GetLast() {
			break
		}
	}
	head.Snapshot.Data = data.Bytes()
	t.step(s.Context(), head)
	return s.SendAndClose(&ferryv1.RaftAck{})
}

// admit refuses messages from another cluster and from removed members, so a
// removed node can never disturb the cluster again.
func (t *Transport) admit(ctx context.Context, clusterID string, from uint64) error {
	if clusterID != t.n.clusterID {
		return status.Errorf(codes.FailedPrecondition, "message for cluster %q reached a node of cluster %q", clusterID, t.n.clusterID)
	}
	if err := t.admitPeer(ctx, from); err != nil {
		return err
	}
	if t.n.fsm.IsRemoved(from) {
		return status.Errorf(codes.PermissionDenied, "member %x was removed from the cluster", from)
	}
	return nil
}

// forwardedPropWait bounds how long a proposal forwarded by a follower may
// wait to enter Raft. Raft takes proposals only while it knows a leader; a
// blocked step would hold up every message behind it on the stream,
// heartbeats of a new leader included. The proposer re-proposes a dropped one.
const forwardedPropWait = 100 * time.Millisecond

func (t *Transport) step(ctx context.Context, m *raftpb.Message) {
	if m.GetType() == raftpb.MsgProp {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, forwardedPropWait)
		defer cancel()
	}
	if err := t.n.raft.Step(ctx, m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) && !errors.Is(err, raft.ErrStepLocalMsg) {
		t.n.log.Debug("raft step", "type", m.GetType().String(), "err", err)
	}
}
