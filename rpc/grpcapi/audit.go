package grpcapi

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

// DefaultAuditRetention is how long the audit trail keeps a record.
const DefaultAuditRetention = 90 * 24 * time.Hour

const (
	// auditQueue bounds the records waiting to be proposed: past it a
	// record is dropped (and counted) rather than holding up calls.
	auditQueue = 4096
	// auditPatience is how long a record may wait for a proposal to
	// succeed (the cluster without a leader, this node cut off) before it
	// is dropped and counted.
	auditPatience = 5 * time.Minute
	// auditLinger is how long a record waits for others to share its
	// Raft entry: without it, one client calling at a time would double
	// the entries (and the fsyncs every call waits behind); with it a node
	// proposes at most five entries a second, however busy.
	auditLinger = 200 * time.Millisecond
	// auditBatchBytes bounds the records of one entry by their size.
	auditBatchBytes = 256 << 10
	// auditFlush bounds what a stopping node spends proposing what is
	// still queued.
	auditFlush = 3 * time.Second
	// auditProposeTimeout bounds one proposal of a batch or a prune.
	auditProposeTimeout = 10 * time.Second
	// auditPruneEvery is how often, at most, the leader looks for records
	// past the retention.
	auditPruneEvery = 10 * time.Minute
)

// AuditedCall is a mutating call as Auth saw it once it was answered.
type AuditedCall struct {
	// Method is the full gRPC method name.
	Method string
	// Caller is who made it, as far as Auth knew (acl.Authorize).
	Caller acl.Caller
	// Request is the request message (nil for a stream).
	Request any
	// Start is when the call arrived.
	Start time.Time
	// Err is the call's outcome: nil, or its refusal or failure.
	Err error
}

// AuditConfig configures an Auditor.
type AuditConfig struct {
	// Retention is how long a record is kept: the leader prunes older
	// ones. Default: DefaultAuditRetention.
	Retention time.Duration
	// Logger records what is dropped. Default: slog.Default().
	Logger *slog.Logger
	// Registerer takes ferry_audit_records_total, _batches_total and
	// _dropped_total. Default: none.
	Registerer prometheus.Registerer
	// Now is the clock of pruning. Default: time.Now.
	Now func() time.Time
}

// auditNode is what an Auditor needs of a cluster node.
type auditNode interface {
	Name() string
	Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error)
	FSM() *fsm.FSM
	IsLeader() bool
}

// Auditor writes the audit trail: Record turns each mutating call Auth
// saw into a record and queues it without waiting; Run proposes what is
// queued, as one AuditOp entry per batch, after the calls were answered,
// so that a call costs its client no second Raft commit and a burst of
// calls costs the log a few entries. A record that cannot be proposed (the
// queue full, no leader for auditPatience, the node stopping) is dropped,
// logged and counted in ferry_audit_dropped_total: the trail is complete
// unless that counter moved or a node died with records queued. On the
// leader, Run also prunes records older than the retention.
type Auditor struct {
	node    auditNode
	cfg     AuditConfig
	queue   chan *ferryv1.AuditRecord
	records prometheus.Counter
	batches prometheus.Counter
	dropped *prometheus.CounterVec
}

// NewAuditor returns an Auditor proposing through node.
func NewAuditor(node auditNode, cfg AuditConfig) *Auditor {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultAuditRetention
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Auditor{
		node:  node,
		cfg:   cfg,
		queue: make(chan *ferryv1.AuditRecord, auditQueue),
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_audit_records_total", Help: "Audit records of calls this node served that were committed.",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_audit_batches_total", Help: "Raft entries (AuditOp) that committed them: records per entry is the batching.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_audit_dropped_total", Help: "Audit records of calls this node served that were never committed, by why: queue_full, failed, stopping.",
		}, []string{"reason"}),
	}
	for _, r := range []string{"queue_full", "failed", "stopping"} {
		a.dropped.WithLabelValues(r)
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(a.records, a.batches, a.dropped)
	}
	return a
}

// Record queues the record of a call; it never blocks.
func (a *Auditor) Record(c AuditedCall) {
	r := auditRecord(a.node.Name(), c)
	select {
	case a.queue <- r:
	default:
		a.drop("queue_full", []*ferryv1.AuditRecord{r}, errors.New("the audit queue is full"))
	}
}

// auditRecord is the record of a call served by node.
func auditRecord(node string, c AuditedCall) *ferryv1.AuditRecord {
	id := make([]byte, 16)
	rand.Read(id) // never fails (crypto/rand)
	st := status.Convert(c.Err)
	r := &ferryv1.AuditRecord{
		Id:      id,
		Time:    timestamppb.New(c.Start),
		Who:     truncateText(c.Caller.String(), fsm.MaxAuditText),
		Addr:    truncateText(c.Caller.Addr, fsm.MaxAuditText),
		Node:    node,
		Method:  truncateText(c.Method, fsm.MaxAuditText),
		Request: requestSummary(c.Request),
		Code:    code.Code(st.Code()).String(),
	}
	if c.Err != nil {
		r.Message = truncateText(st.Message(), fsm.MaxAuditText)
	}
	return r
}

// Run proposes the queued records and prunes old ones until ctx ends,
// then spends up to auditFlush proposing what is left.
func (a *Auditor) Run(ctx context.Context) {
	prune := time.NewTicker(max(min(auditPruneEvery, a.cfg.Retention/10), time.Second))
	defer prune.Stop()
	for {
		select {
		case r := <-a.queue:
			a.propose(ctx, a.batch(ctx, r))
		case <-prune.C:
			a.prune(ctx)
		case <-ctx.Done():
			a.flush()
			return
		}
	}
}

// batch is first and what is queued within auditLinger of it, until the
// batch is full or ctx ends.
func (a *Auditor) batch(ctx context.Context, first *ferryv1.AuditRecord) []*ferryv1.AuditRecord {
	b, size := []*ferryv1.AuditRecord{first}, proto.Size(first)
	linger := time.NewTimer(auditLinger)
	defer linger.Stop()
	for !batchFull(len(b), size) {
		select {
		case r := <-a.queue:
			b, size = append(b, r), size+proto.Size(r)
		case <-linger.C:
			return b
		case <-ctx.Done():
			return b
		}
	}
	return b
}

// fill adds to b what is queued, until the batch is full, without waiting.
func (a *Auditor) fill(b []*ferryv1.AuditRecord) []*ferryv1.AuditRecord {
	size := 0
	for _, r := range b {
		size += proto.Size(r)
	}
	for !batchFull(len(b), size) {
		select {
		case r := <-a.queue:
			b, size = append(b, r), size+proto.Size(r)
		default:
			return b
		}
	}
	return b
}

// batchFull reports whether a batch of n records of size bytes takes no
// more: fsm.MaxAuditBatch records, or auditBatchBytes, which keeps the
// entry well inside a Raft message (1 MiB) however long the records.
func batchFull(n, size int) bool { return n >= fsm.MaxAuditBatch || size >= auditBatchBytes }

// propose commits a batch, trying again (the same records: the state
// machine keeps each once) until it succeeds, its oldest record has waited
// auditPatience, or ctx ends; then the batch is dropped.
func (a *Auditor) propose(ctx context.Context, b []*ferryv1.AuditRecord) {
	wait := 100 * time.Millisecond
	for {
		err := a.proposeOnce(ctx, b)
		if err == nil {
			return
		}
		if errors.Is(err, fsm.ErrInvalid) {
			a.drop("failed", b, err)
			return
		}
		if time.Since(b[0].GetTime().AsTime()) > auditPatience {
			a.drop("failed", b, err)
			return
		}
		select {
		case <-time.After(wait):
			wait = min(2*wait, 5*time.Second)
		case <-ctx.Done():
			// flush tries the batch once more with what is queued.
			a.flushBatch(b)
			return
		}
	}
}

func (a *Auditor) proposeOnce(ctx context.Context, b []*ferryv1.AuditRecord) error {
	ctx, cancel := context.WithTimeout(ctx, auditProposeTimeout)
	defer cancel()
	res, err := a.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_Audit{Audit: &ferryv1.AuditOp{Records: b}}})
	if err == nil {
		err = res.Err
	}
	if err == nil {
		a.records.Add(float64(len(b)))
		a.batches.Inc()
	}
	return err
}

// flush proposes what is queued when the node stops, within auditFlush.
func (a *Auditor) flush() { a.flushBatch(nil) }

// flushBatch proposes b and what is queued within auditFlush, dropping
// what does not make it.
func (a *Auditor) flushBatch(b []*ferryv1.AuditRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), auditFlush)
	defer cancel()
	for b = a.fill(b); len(b) > 0; b = a.fill(nil) {
		if err := a.proposeOnce(ctx, b); err != nil {
			a.drop("stopping", b, err)
		}
	}
}

// drop counts and logs records that will never be committed.
func (a *Auditor) drop(reason string, b []*ferryv1.AuditRecord, err error) {
	a.dropped.WithLabelValues(reason).Add(float64(len(b)))
	for _, r := range b {
		a.cfg.Logger.Error("audit record dropped", "reason", reason, "err", err, "time", r.GetTime().AsTime(), "who", r.GetWho(),
			"addr", r.GetAddr(), "method", r.GetMethod(), "request", r.GetRequest(), "code", r.GetCode())
	}
}

// prune proposes, on the leader, the deletion of the records older than
// the retention on the leader's clock, when there are any.
func (a *Auditor) prune(ctx context.Context) {
	if !a.node.IsLeader() {
		return
	}
	before := a.cfg.Now().Add(-a.cfg.Retention)
	if !a.node.FSM().AuditOlderThan(before) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, auditProposeTimeout)
	defer cancel()
	res, err := a.node.Propose(ctx, &ferryv1.Command{Op: &ferryv1.Command_PruneAudit{PruneAudit: &ferryv1.PruneAuditOp{Before: timestamppb.New(before)}}})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		a.cfg.Logger.Warn("audit trail: pruning failed; the next try is in a while", "before", before, "err", err)
	}
}
