package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestPlanReconnect(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)
	const (
		alive = ferryv1.GossipState_GOSSIP_STATE_ALIVE
		dead  = ferryv1.GossipState_GOSSIP_STATE_DEAD
		left  = ferryv1.GossipState_GOSSIP_STATE_LEFT
	)
	member := func(name string, id uint64, state ferryv1.GossipState, ago time.Duration) GossipMember {
		return GossipMember{Name: name, RaftID: id, ClusterID: "c1", GossipAddr: "10.0.0." + name + ":7201", State: state, Since: now.Add(-ago)}
	}
	node := func(name string, id uint64) *ferryv1.NodeInfo {
		return &ferryv1.NodeInfo{Name: name, RaftId: id, GossipAddr: "10.0.0." + name + ":7201"}
	}
	self := member("1", 1, alive, time.Hour)
	// Raft knows the node itself and nodes 2 to 4.
	known := []*ferryv1.NodeInfo{node("1", 1), node("2", 2), node("3", 3), node("4", 4)}
	tests := []struct {
		name    string
		members []GossipMember
		known   []*ferryv1.NodeInfo
		join    []string
		started time.Duration // how long ago reconnecting began
		want    []string      // the failed members pick chooses among, or every address when alone
		alone   bool
	}{
		{
			name:    "everyone alive: nothing to do",
			members: []GossipMember{self, member("2", 2, alive, time.Minute), member("3", 3, alive, time.Second), member("4", 4, alive, time.Minute)},
			known:   known,
		},
		{
			name:    "dead members are tried",
			members: []GossipMember{self, member("2", 2, alive, time.Minute), member("3", 3, dead, time.Minute), member("4", 4, dead, time.Hour)},
			known:   known,
			want:    []string{"10.0.0.3:7201", "10.0.0.4:7201"},
		},
		{
			name:    "a member that left gracefully is not",
			members: []GossipMember{self, member("2", 2, alive, time.Minute), member("3", 3, left, time.Minute), member("4", 4, dead, time.Minute)},
			known:   known,
			want:    []string{"10.0.0.4:7201"},
		},
		{
			name:    "dead for longer than the timeout: given up",
			members: []GossipMember{self, member("2", 2, alive, time.Minute), member("3", 3, dead, 25*time.Hour), member("4", 4, alive, time.Minute)},
			known:   known,
		},
		{
			name: "removed from Raft, or never in it: not tried",
			members: []GossipMember{self, member("2", 2, alive, time.Minute), member("3", 3, alive, time.Minute),
				member("4", 4, dead, time.Minute), member("5", 5, dead, time.Minute)},
			known: known[:3],
		},
		{
			name:    "known to Raft but never seen by gossip",
			members: []GossipMember{self, member("2", 2, alive, time.Minute), member("3", 3, alive, time.Minute)},
			known:   known,
			want:    []string{"10.0.0.4:7201"},
		},
		{
			name:    "known to Raft only, for longer than the timeout: given up",
			members: []GossipMember{self, member("2", 2, alive, time.Minute), member("3", 3, alive, time.Minute)},
			known:   known,
			started: 25 * time.Hour,
		},
		{
			name: "a live member's address heals nothing",
			members: []GossipMember{self, member("2", 2, alive, time.Minute), member("3", 3, alive, time.Minute),
				{Name: "4", RaftID: 4, ClusterID: "c1", GossipAddr: "10.0.0.2:7201", State: dead, Since: now.Add(-time.Minute)}},
			known: known,
		},
		{
			name: "another cluster's members count for nothing",
			members: []GossipMember{self, member("2", 2, alive, time.Minute), member("3", 3, alive, time.Minute),
				{Name: "4", RaftID: 4, ClusterID: "c2", GossipAddr: "10.0.0.9:7201", State: alive, Since: now}},
			known: known,
			want:  []string{"10.0.0.4:7201"},
		},
		{
			name:    "alone after a partition: the join addresses, then every failed member",
			members: []GossipMember{self, member("2", 2, dead, time.Minute), member("3", 3, dead, time.Minute), member("4", 4, left, time.Minute)},
			known:   known,
			join:    []string{"10.0.0.1:7201", "seed:7201", "10.0.0.2:7201"},
			want:    []string{"seed:7201", "10.0.0.2:7201", "10.0.0.3:7201"},
			alone:   true,
		},
		{
			name:    "alone at start: the join addresses and the Raft state's members",
			members: []GossipMember{self},
			known:   known,
			join:    []string{"seed:7201"},
			want:    []string{"seed:7201", "10.0.0.2:7201", "10.0.0.3:7201", "10.0.0.4:7201"},
			alone:   true,
		},
		{
			name:    "alone with the log not replayed yet: the join addresses",
			members: []GossipMember{self},
			join:    []string{"seed:7201"},
			want:    []string{"seed:7201"},
			alone:   true,
		},
		{
			name:    "alone for longer than the timeout: still every member Raft knows",
			members: []GossipMember{self, member("2", 2, dead, 25*time.Hour), member("3", 3, dead, time.Minute)},
			known:   known,
			started: 25 * time.Hour,
			want:    []string{"10.0.0.2:7201", "10.0.0.3:7201", "10.0.0.4:7201"},
			alone:   true,
		},
		{
			name:    "alone and knowing nobody",
			members: []GossipMember{self},
			known:   known[:1],
			alone:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := reconnectView{
				self: 1, selfName: "1", selfAddr: "10.0.0.1:7201", clusterID: "c1",
				members: tt.members, known: tt.known, join: tt.join,
				started: now.Add(-tt.started), now: now, timeout: 24 * time.Hour,
			}
			for i := range max(1, len(tt.want)) {
				var choices int
				plan := planReconnect(v, func(n int) int { choices = n; return i })
				if plan.alone != tt.alone {
					t.Fatalf("alone = %v, want %v", plan.alone, tt.alone)
				}
				switch {
				case tt.alone:
					if !slices.Equal(plan.addrs, tt.want) {
						t.Fatalf("addrs = %q, want %q", plan.addrs, tt.want)
					}
					return
				case len(tt.want) == 0:
					if len(plan.addrs) != 0 {
						t.Fatalf("addrs = %q, want none", plan.addrs)
					}
				case choices != len(tt.want) || !slices.Equal(plan.addrs, tt.want[i:i+1]):
					t.Fatalf("pick %d of %d = %q, want %q of %q", i, choices, plan.addrs, tt.want[i], tt.want)
				}
			}
		})
	}
}

// fakeJoiner answers the reconnector's joins from a script.
type fakeJoiner struct {
	mu    sync.Mutex
	calls [][]string
	ok    bool
	// block holds every join until it is closed.
	block chan struct{}
}

func (f *fakeJoiner) join(addrs []string) (int, error) {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, addrs)
	if f.ok {
		return 1, nil
	}
	return 0, errors.New("connection refused")
}

func (f *fakeJoiner) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func newTestReconnector(view reconnectView, j *fakeJoiner) *reconnector {
	return &reconnector{
		cfg:      ReconnectConfig{Interval: 10 * time.Millisecond, Timeout: time.Hour},
		view:     func() reconnectView { return view },
		join:     j.join,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t"}, []string{"result"}),
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestReconnectorCountsAttemptsAndStops(t *testing.T) {
	view := reconnectView{
		self: 1, selfName: "a", selfAddr: "127.0.0.1:1", clusterID: "c",
		members: []GossipMember{
			{Name: "a", RaftID: 1, ClusterID: "c", State: ferryv1.GossipState_GOSSIP_STATE_ALIVE},
			{Name: "b", RaftID: 2, ClusterID: "c", GossipAddr: "127.0.0.1:2", State: ferryv1.GossipState_GOSSIP_STATE_ALIVE},
			{Name: "c", RaftID: 3, ClusterID: "c", GossipAddr: "127.0.0.1:3", State: ferryv1.GossipState_GOSSIP_STATE_DEAD, Since: time.Now()},
		},
		known:   []*ferryv1.NodeInfo{{Name: "a", RaftId: 1}, {Name: "b", RaftId: 2}, {Name: "c", RaftId: 3}},
		timeout: time.Hour,
	}
	for _, ok := range []bool{true, false} {
		j := &fakeJoiner{ok: ok}
		r := newTestReconnector(view, j)
		runFor(t, r, func() bool { return j.count() >= 3 })
		result := map[bool]string{true: "ok", false: "error"}
		if got := counted(t, r, result[ok]); got < 3 {
			t.Errorf("ok=%v: %s attempts = %v, want at least 3", ok, result[ok], got)
		}
		if got := counted(t, r, result[!ok]); got != 0 {
			t.Errorf("ok=%v: %s attempts = %v, want 0", ok, result[!ok], got)
		}
		j.mu.Lock()
		calls := slices.Clone(j.calls)
		j.mu.Unlock()
		for _, c := range calls {
			if !slices.Equal(c, []string{"127.0.0.1:3"}) {
				t.Fatalf("joined %q, want only the dead member 127.0.0.1:3", c)
			}
		}
	}
}

// runFor runs r until enough() holds, and stops it.
func runFor(t *testing.T, r *reconnector, enough func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	eventually(t, 10*time.Second, "enough joins", enough)
}

func TestReconnectorStopsDuringAJoin(t *testing.T) {
	view := reconnectView{self: 1, selfName: "a", members: []GossipMember{{Name: "a", RaftID: 1}}, join: []string{"127.0.0.1:2"}, timeout: time.Hour}
	j := &fakeJoiner{block: make(chan struct{})}
	defer close(j.block)
	r := newTestReconnector(view, j)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx); close(done) }()
	time.AfterFunc(50*time.Millisecond, cancel)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return while a join hung")
	}
	if got := counted(t, r, "error") + counted(t, r, "ok"); got != 0 {
		t.Errorf("an abandoned join was counted: %v", got)
	}
}

// counted reads the reconnector's attempts counter of one result.
func counted(t *testing.T, r *reconnector, result string) float64 {
	t.Helper()
	var m dto.Metric
	if err := r.attempts.WithLabelValues(result).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestReconnectRejoinsADeadMember runs the reconnector on real gossip: b
// crashes (no leave), a declares it dead, and b comes back on its address
// knowing nobody. Memberlist alone leaves it there, since a never contacts
// a dead member and b knows no one to join; a's reconnector heals it.
func TestReconnectRejoinsADeadMember(t *testing.T) {
	portA, portB := freePort(t), freePort(t)
	a := startTestGossip(t, "a", portA, 1)
	defer a.Leave(time.Second)
	b := startTestGossip(t, "b", portB, 2)
	if err := a.Join([]string{b.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "a to see b alive", func() bool { return gossipState(a, "b") == ferryv1.GossipState_GOSSIP_STATE_ALIVE })

	killGossip(t, b)
	eventually(t, 30*time.Second, "a to see b dead", func() bool { return gossipState(a, "b") == ferryv1.GossipState_GOSSIP_STATE_DEAD })
	b = startTestGossip(t, "b", portB, 2)
	defer b.Leave(time.Second)

	r := &reconnector{
		cfg: ReconnectConfig{Interval: 100 * time.Millisecond, Timeout: time.Hour},
		view: func() reconnectView {
			return reconnectView{
				self: 1, selfName: "a", selfAddr: a.LocalAddr(), clusterID: "c", members: a.Members(),
				known:   []*ferryv1.NodeInfo{{Name: "a", RaftId: 1}, {Name: "b", RaftId: 2, GossipAddr: b.LocalAddr()}},
				timeout: time.Hour,
			}
		},
		join:     a.rejoin,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "t"}, []string{"result"}),
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	eventually(t, 30*time.Second, "a and b to see each other alive again", func() bool {
		return gossipState(a, "b") == ferryv1.GossipState_GOSSIP_STATE_ALIVE && gossipState(b, "a") == ferryv1.GossipState_GOSSIP_STATE_ALIVE
	})
	if counted(t, r, "ok") == 0 {
		t.Error("the healing join was not counted")
	}
}
