package grpcapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

// auditFakeNode is fakeNode that can fail proposals, or apply one and
// still report it failed (as a proposal that times out while it commits).
type auditFakeNode struct {
	*fakeNode
	mu sync.Mutex
	// fail proposals fail before the next succeeds; lost proposals apply
	// but report a timeout.
	fail, lost int
	leader     bool
	audits     []int // records per AuditOp applied
}

func newAuditFakeNode() *auditFakeNode { return &auditFakeNode{fakeNode: newFakeNode()} }

func (n *auditFakeNode) Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error) {
	n.mu.Lock()
	fail, lost := n.fail > 0, n.fail == 0 && n.lost > 0
	switch {
	case fail:
		n.fail--
	case lost:
		n.lost--
	}
	if !fail && cmd.GetAudit() != nil {
		n.audits = append(n.audits, len(cmd.GetAudit().GetRecords()))
	}
	n.mu.Unlock()
	if fail {
		return fsm.Result{}, fmt.Errorf("%w: %w", cluster.ErrNoLeader, context.DeadlineExceeded)
	}
	res, err := n.fakeNode.Propose(ctx, cmd)
	if lost {
		return fsm.Result{}, context.DeadlineExceeded
	}
	return res, err
}

func (n *auditFakeNode) IsLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader
}

func (n *auditFakeNode) appliedAudits() []int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]int(nil), n.audits...)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runAuditor runs a until the test ends.
func runAuditor(t *testing.T, a *Auditor) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitRecords waits until the node's trail holds n records.
func waitRecords(t *testing.T, node *auditFakeNode, n int) []*ferryv1.AuditRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		recs := node.FSM().AuditRecords(fsm.AuditFilter{}).Records
		if len(recs) == n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d audit records, want %d", len(recs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAuthAudits: Auth hands every mutating call to the trail once
// answered, with its caller and outcome, refusals included; reads and
// node-only methods are not audited.
func TestAuthAudits(t *testing.T) {
	secret, h, _ := acl.NewToken()
	readSecret, readH, _ := acl.NewToken()
	node := newAuditFakeNode()
	a := NewAuditor(node, AuditConfig{Logger: quietLogger()})
	start := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	auth := NewAuth(AuthConfig{Tokens: authTokens{h: {Name: "backup-app", Role: acl.Operator}, readH: {Name: "monitor", Role: acl.Read}},
		Now: func() time.Time { return start }, Audit: a, Logger: quietLogger(),
		Skip: func(m string) bool { return m == "/ferry.v1.RaftTransport/Send" }})
	as := func(s string) context.Context {
		if s == "" {
			return context.Background()
		}
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs(acl.AuthorizationHeader, acl.BearerValue(s)))
	}
	ok := func(context.Context, any) (any, error) { return "done", nil }
	notFound := func(context.Context, any) (any, error) {
		return nil, status.Error(codes.NotFound, `job "j-9": not found`)
	}
	for _, c := range []struct {
		ctx    context.Context
		method string
		h      grpc.UnaryHandler
	}{
		{as(secret), "/ferry.v1.JobService/Submit", ok},
		{as(secret), "/ferry.v1.JobService/List", ok},
		{as(secret), "/ferry.v1.DeviceService/AddDisk", ok},
		{as(readSecret), "/ferry.v1.JobService/Cancel", ok},
		{as(""), "/ferry.v1.JobService/Cancel", ok},
		{as(secret), "/ferry.v1.JobService/Cancel", notFound},
		{as(""), "/ferry.v1.RaftTransport/Send", ok},
	} {
		auth.unary(c.ctx, &ferryv1.CancelJobRequest{Id: "j-9"}, &grpc.UnaryServerInfo{FullMethod: c.method}, c.h)
	}
	runAuditor(t, a)
	recs := waitRecords(t, node, 5)
	want := []struct{ who, method, code, message string }{
		{"token:backup-app", "/ferry.v1.JobService/Submit", "OK", ""},
		{"token:backup-app", "/ferry.v1.DeviceService/AddDisk", "PERMISSION_DENIED", `ACL token "backup-app" has role operator; /ferry.v1.DeviceService/AddDisk needs role admin`},
		{"token:monitor", "/ferry.v1.JobService/Cancel", "PERMISSION_DENIED", `ACL token "monitor" has role read; /ferry.v1.JobService/Cancel needs role operator`},
		{"anonymous", "/ferry.v1.JobService/Cancel", "UNAUTHENTICATED", "no ACL token: this cluster's ACLs are bootstrapped and /ferry.v1.JobService/Cancel needs a token of role operator or higher; pass -token or FERRY_TOKEN"},
		{"token:backup-app", "/ferry.v1.JobService/Cancel", "NOT_FOUND", `job "j-9": not found`},
	}
	for i, w := range want {
		r := recs[i]
		if r.GetWho() != w.who || r.GetMethod() != w.method || r.GetCode() != w.code || r.GetMessage() != w.message ||
			r.GetNode() != "n1" || r.GetRequest() != "id=j-9" || !r.GetTime().AsTime().Equal(start) || r.GetSeq() != uint64(i+1) {
			t.Errorf("record %d: %v, want %+v", i, r, w)
		}
	}
}

// TestAuditorBatches: what is queued when the proposer gets to it goes in
// one entry.
func TestAuditorBatches(t *testing.T) {
	node := newAuditFakeNode()
	a := NewAuditor(node, AuditConfig{Logger: quietLogger()})
	for i := range 10 {
		a.Record(AuditedCall{Method: "/ferry.v1.JobService/Submit", Start: time.Unix(int64(i), 0)})
	}
	runAuditor(t, a)
	waitRecords(t, node, 10)
	if got := node.appliedAudits(); len(got) != 1 || got[0] != 10 {
		t.Fatalf("AuditOps of %v records, want one of 10", got)
	}
}

// TestAuditorRetries: a proposal that failed is tried again, and one that
// committed though it timed out is kept once.
func TestAuditorRetries(t *testing.T) {
	node := newAuditFakeNode()
	node.fail, node.lost = 2, 1
	reg := prometheus.NewRegistry()
	a := NewAuditor(node, AuditConfig{Logger: quietLogger(), Registerer: reg})
	a.Record(AuditedCall{Method: "/ferry.v1.JobService/Submit", Start: time.Now()})
	runAuditor(t, a)
	waitRecords(t, node, 1)
	deadline := time.Now().Add(10 * time.Second)
	for len(node.appliedAudits()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := node.appliedAudits(); len(got) != 2 {
		t.Fatalf("applied %v, want the batch twice (lost, then again)", got)
	}
	if got := node.FSM().AuditRecords(fsm.AuditFilter{}).Records; len(got) != 1 {
		t.Fatalf("%d records, want 1", len(got))
	}
	if n := counterValue(t, a.records); n != 1 {
		t.Errorf("ferry_audit_records_total = %v", n)
	}
	if n := counterValue(t, a.batches); n != 1 {
		t.Errorf("ferry_audit_batches_total = %v", n)
	}
	for _, reason := range []string{"queue_full", "failed", "stopping"} {
		if n := counterValue(t, a.dropped.WithLabelValues(reason)); n != 0 {
			t.Errorf("ferry_audit_dropped_total{reason=%q} = %v", reason, n)
		}
	}
}

// TestAuditorDropsLoudly: a full queue, and records still queued when a
// node stops without a leader, are counted as dropped.
func TestAuditorDropsLoudly(t *testing.T) {
	node := newAuditFakeNode()
	node.fail = 1 << 30
	a := NewAuditor(node, AuditConfig{Logger: quietLogger()})
	for range auditQueue + 3 {
		a.Record(AuditedCall{Method: "/ferry.v1.JobService/Submit", Start: time.Now()})
	}
	if n := counterValue(t, a.dropped.WithLabelValues("queue_full")); n != 3 {
		t.Fatalf("queue_full = %v, want 3", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.Run(ctx)
	if n := counterValue(t, a.dropped.WithLabelValues("stopping")); n != auditQueue {
		t.Fatalf("stopping = %v, want %d", n, auditQueue)
	}
}

// TestAuditorPrunes: the leader, and only it, proposes a prune at its
// clock minus the retention, when something is that old.
func TestAuditorPrunes(t *testing.T) {
	node := newAuditFakeNode()
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	a := NewAuditor(node, AuditConfig{Logger: quietLogger(), Retention: 24 * time.Hour, Now: func() time.Time { return now }})
	for _, age := range []time.Duration{48 * time.Hour, 25 * time.Hour, time.Hour} {
		r := auditRecord("n1", AuditedCall{Method: "/ferry.v1.JobService/Submit", Start: now.Add(-age)})
		if res, err := node.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_Audit{Audit: &ferryv1.AuditOp{Records: []*ferryv1.AuditRecord{r}}}}); err != nil || res.Err != nil {
			t.Fatal(err, res.Err)
		}
	}
	a.prune(context.Background())
	if n := len(node.FSM().AuditRecords(fsm.AuditFilter{}).Records); n != 3 {
		t.Fatalf("a follower pruned: %d records", n)
	}
	node.leader = true
	a.prune(context.Background())
	recs := node.FSM().AuditRecords(fsm.AuditFilter{}).Records
	if len(recs) != 1 || !recs[0].GetTime().AsTime().Equal(now.Add(-time.Hour)) {
		t.Fatalf("after the prune: %v", recs)
	}
	before := node.index
	a.prune(context.Background())
	if node.index != before {
		t.Fatal("a prune proposed with nothing to prune")
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestAuditList: the newest matching records, oldest first, with what was
// left out; a bad request is refused; without a quorum only a stale read
// answers.
func TestAuditList(t *testing.T) {
	node := newAuditFakeNode()
	base := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	var recs []*ferryv1.AuditRecord
	for i, who := range []string{"token:a", "token:b", "token:a", "certificate:spiffe://ferry/client/cli", "token:a"} {
		recs = append(recs, auditRecord("n1", AuditedCall{Method: "/ferry.v1.JobService/Submit", Caller: callerOf(who), Start: base.Add(time.Duration(i) * time.Hour)}))
	}
	if res, err := node.Propose(context.Background(), &ferryv1.Command{Op: &ferryv1.Command_Audit{Audit: &ferryv1.AuditOp{Records: recs}}}); err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	conn := serveGRPC(t, func(gs *grpc.Server) { ferryv1.RegisterAuditServiceServer(gs, NewAuditServer(node)) })
	c := ferryv1.NewAuditServiceClient(conn)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		req     *ferryv1.ListAuditRequest
		seq     []uint64
		omitted uint64
	}{
		{"all", &ferryv1.ListAuditRequest{}, []uint64{1, 2, 3, 4, 5}, 0},
		{"who", &ferryv1.ListAuditRequest{Who: "a"}, []uint64{1, 3, 5}, 0},
		{"certificate", &ferryv1.ListAuditRequest{Who: "spiffe://ferry/client/cli"}, []uint64{4}, 0},
		{"since", &ferryv1.ListAuditRequest{Since: timestamppb.New(base.Add(2 * time.Hour))}, []uint64{3, 4, 5}, 0},
		{"limit", &ferryv1.ListAuditRequest{Who: "token:a", Limit: 2}, []uint64{3, 5}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.List(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var seq []uint64
			for _, r := range resp.GetRecords() {
				seq = append(seq, r.GetSeq())
			}
			if fmt.Sprint(seq) != fmt.Sprint(tc.seq) || resp.GetOmitted() != tc.omitted {
				t.Errorf("seq %v omitted %d, want %v and %d", seq, resp.GetOmitted(), tc.seq, tc.omitted)
			}
		})
	}
	if _, err := c.List(ctx, &ferryv1.ListAuditRequest{Limit: MaxAuditList + 1}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("limit past the most: %v", err)
	}
	node.noQuorum = true
	if _, err := c.List(ctx, &ferryv1.ListAuditRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("without a quorum: %v", err)
	}
	if resp, err := c.List(ctx, &ferryv1.ListAuditRequest{Stale: true}); err != nil || len(resp.GetRecords()) != 5 {
		t.Errorf("stale without a quorum: %v", err)
	}
}

// callerOf is the caller whose String is s.
func callerOf(s string) acl.Caller {
	kind, name, _ := strings.Cut(s, ":")
	return acl.Caller{Kind: acl.Kind(kind), Name: name}
}

// TestAuditorBatchBytes: long records share entries of at most about
// auditBatchBytes.
func TestAuditorBatchBytes(t *testing.T) {
	node := newAuditFakeNode()
	a := NewAuditor(node, AuditConfig{Logger: quietLogger()})
	long := strings.Repeat("x", 400)
	n := 2 * auditBatchBytes / 500
	for range n {
		a.Record(AuditedCall{Method: "/ferry.v1.JobService/Submit", Request: &ferryv1.CancelJobRequest{Id: long, Reason: long}, Start: time.Now()})
	}
	runAuditor(t, a)
	waitRecords(t, node, n)
	got := node.appliedAudits()
	if len(got) < 2 {
		t.Fatalf("AuditOps of %v records: one entry of %d long records", got, n)
	}
	for _, k := range got {
		if k*500 > auditBatchBytes+2000 || k >= fsm.MaxAuditBatch {
			t.Errorf("an AuditOp of %d long records", k)
		}
	}
}
