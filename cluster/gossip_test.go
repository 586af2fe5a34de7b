package cluster

import (
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestMemberState(t *testing.T) {
	tests := []struct {
		name    string
		leaving bool
		in      bool
		want    ferryv1.GossipState
	}{
		{"joined or updated", false, true, ferryv1.GossipState_GOSSIP_STATE_ALIVE},
		{"announced its leave, not gone yet", true, true, ferryv1.GossipState_GOSSIP_STATE_ALIVE},
		{"gone after announcing its leave", true, false, ferryv1.GossipState_GOSSIP_STATE_LEFT},
		{"gone without a word", false, false, ferryv1.GossipState_GOSSIP_STATE_DEAD},
	}
	for _, tt := range tests {
		if got := memberState(nodeMeta{Leaving: tt.leaving}, tt.in); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestNodeMetaFits checks that the largest metadata a node plausibly sends
// fits memberlist's limit: NodeMeta sends none at all past it.
func TestNodeMetaFits(t *testing.T) {
	keys := make([]string, fsm.MaxGossipKeys)
	for i := range keys {
		keys[i] = fsm.GossipKeyFingerprint([]byte{byte(i)})
	}
	addr := "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"
	meta := nodeMeta{
		ClusterID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", RaftID: math.MaxUint64, Site: strings.Repeat("s", 63),
		GRPC: addr, HTTP: addr, Transport: ferryv1.Transport_TRANSPORT_PLAINTEXT, Keys: keys, Leaving: true,
	}
	d := &gossipDelegate{meta: meta}
	b := d.NodeMeta(memberlist.MetaMaxSize)
	if b == nil {
		full, _ := json.Marshal(meta)
		t.Fatalf("metadata of %d bytes is over memberlist's %d", len(full), memberlist.MetaMaxSize)
	}
	t.Logf("largest metadata: %d of %d bytes", len(b), memberlist.MetaMaxSize)
}

// startTestGossip starts gossip for a member of cluster "c" on port.
func startTestGossip(t *testing.T, name string, port int, id uint64) *Gossip {
	t.Helper()
	g, err := startGossip(gossipConfig{name: name, label: "gossip-test", bindAddr: "127.0.0.1", advertise: "127.0.0.1",
		port: port, adPort: port, meta: nodeMeta{RaftID: id}, logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetClusterID("c"); err != nil {
		t.Fatal(err)
	}
	return g
}

// killGossip stops g as a crash would: no leave, no word to anyone.
func killGossip(t *testing.T, g *Gossip) {
	t.Helper()
	close(g.stopMeta)
	<-g.metaDone
	if err := g.list.Shutdown(); err != nil {
		t.Fatal(err)
	}
}

// gossipState is the state g records of the member name.
func gossipState(g *Gossip, name string) ferryv1.GossipState {
	for _, m := range g.Members() {
		if m.Name == name {
			return m.State
		}
	}
	return ferryv1.GossipState_GOSSIP_STATE_UNSPECIFIED
}

// TestGossipTellsLeftFromDead runs three members: b leaves gracefully and
// the others record it LEFT, c crashes and is DEAD. The reconnector tries
// c and never b; b, started again, joins by itself and is ALIVE.
func TestGossipTellsLeftFromDead(t *testing.T) {
	a := startTestGossip(t, "a", freePort(t), 1)
	defer a.Leave(time.Second)
	portB := freePort(t)
	b := startTestGossip(t, "b", portB, 2)
	c := startTestGossip(t, "c", freePort(t), 3)
	addrB, addrC := b.LocalAddr(), c.LocalAddr()
	if err := a.Join([]string{addrB, addrC}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "every member to see the others alive", func() bool {
		for _, g := range []*Gossip{a, b, c} {
			for _, name := range []string{"a", "b", "c"} {
				if gossipState(g, name) != ferryv1.GossipState_GOSSIP_STATE_ALIVE {
					return false
				}
			}
		}
		return true
	})

	b.Leave(time.Second)
	eventually(t, 30*time.Second, "a and c to see b left", func() bool {
		return gossipState(a, "b") == ferryv1.GossipState_GOSSIP_STATE_LEFT && gossipState(c, "b") == ferryv1.GossipState_GOSSIP_STATE_LEFT
	})
	killGossip(t, c)
	eventually(t, 30*time.Second, "a to see c dead", func() bool { return gossipState(a, "c") == ferryv1.GossipState_GOSSIP_STATE_DEAD })
	if got := gossipState(a, "b"); got != ferryv1.GossipState_GOSSIP_STATE_LEFT {
		t.Fatalf("a records b %v after c died, want LEFT", got)
	}

	j := &fakeJoiner{}
	r := newTestReconnector(reconnectView{
		self: 1, selfName: "a", selfAddr: a.LocalAddr(), clusterID: "c", members: a.Members(),
		known: []*ferryv1.NodeInfo{
			{Name: "a", RaftId: 1, GossipAddr: a.LocalAddr()}, {Name: "b", RaftId: 2, GossipAddr: addrB}, {Name: "c", RaftId: 3, GossipAddr: addrC},
		},
		timeout: time.Hour,
	}, j)
	runFor(t, r, func() bool { return j.count() >= 3 })
	j.mu.Lock()
	calls := slices.Clone(j.calls)
	j.mu.Unlock()
	for _, call := range calls {
		if !slices.Equal(call, []string{addrC}) {
			t.Fatalf("the reconnector joined %q, want only the dead member c at %s (b at %s left)", call, addrC, addrB)
		}
	}

	b = startTestGossip(t, "b", portB, 2)
	defer b.Leave(time.Second)
	if err := b.Join([]string{a.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "a to see b, back, alive", func() bool { return gossipState(a, "b") == ferryv1.GossipState_GOSSIP_STATE_ALIVE })
}
