package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// netLab is a small network of namespaces the test made itself: a hub
// namespace holding a bridge, and one namespace per node joined to it by a
// veth pair, with an address of 10.213.1.0/24. Nothing of it touches the
// host's own namespace, so its traffic stays inside.
type netLab struct {
	t   *testing.T
	hub string
	ns  map[string]string // node → its namespace
	ip  map[string]string // node → its address
	// port is each node's veth end in the hub, the link a partition cuts.
	port map[string]string
}

// newNetLab creates the namespaces, or skips the test saying why it cannot.
// Everything it creates goes when the test ends, whatever happened.
func newNetLab(t *testing.T, nodes []string) *netLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("network namespaces need iproute2's ip: %v", err)
	}
	prefix := fmt.Sprintf("ferry-test-%d-", os.Getpid())
	lab := &netLab{t: t, hub: prefix + "hub", ns: map[string]string{}, ip: map[string]string{}, port: map[string]string{}}
	var created []string
	t.Cleanup(func() {
		for _, ns := range created {
			if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
				t.Errorf("delete network namespace %s: %v: %s", ns, err, out)
			}
		}
	})
	// The first failure is the environment's (no CAP_NET_ADMIN, no veth or
	// bridge driver): the test cannot run here.
	setup := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("cannot build the test network: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	setup("netns", "add", lab.hub)
	created = append(created, lab.hub)
	setup("-n", lab.hub, "link", "add", "br0", "type", "bridge")
	setup("-n", lab.hub, "link", "set", "br0", "up")
	for i, node := range nodes {
		ns := prefix + node
		setup("netns", "add", ns)
		created = append(created, ns)
		lab.ns[node], lab.ip[node], lab.port[node] = ns, fmt.Sprintf("10.213.1.%d", i+1), fmt.Sprintf("v%d", i+1)
		setup("-n", ns, "link", "set", "lo", "up")
		setup("-n", lab.hub, "link", "add", lab.port[node], "type", "veth", "peer", "name", "eth0", "netns", ns)
		setup("-n", lab.hub, "link", "set", lab.port[node], "master", "br0", "up")
		setup("-n", ns, "addr", "add", lab.ip[node]+"/24", "dev", "eth0")
		setup("-n", ns, "link", "set", "eth0", "up")
	}
	return lab
}

// link sets the node's port on the bridge up or down: down, its packets go
// nowhere, as when a switch port or cable fails.
func (l *netLab) link(node string, up bool) {
	l.t.Helper()
	state := map[bool]string{true: "up", false: "down"}[up]
	if out, err := exec.Command("ip", "-n", l.hub, "link", "set", l.port[node], state).CombinedOutput(); err != nil {
		l.t.Fatalf("set %s's link %s: %v: %s", node, state, err, out)
	}
}

// gossipStates is how one node sees the others in gossip.
func gossipStates(ctx context.Context, m *moverCluster, node string) (map[string]ferryv1.GossipState, error) {
	cl, err := m.c.Client(node)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	resp, err := cl.Cluster.Members(ctx, &ferryv1.MembersRequest{})
	if err != nil {
		return nil, err
	}
	states := map[string]ferryv1.GossipState{}
	for _, mem := range resp.GetMembers() {
		states[mem.GetNode()] = mem.GetGossipState()
	}
	return states, nil
}

// waitSees waits until each observer's gossip says state of every node in
// of.
func waitSees(t *testing.T, ctx context.Context, m *moverCluster, observers, of []string, state ferryv1.GossipState) {
	t.Helper()
	waitFor(t, ctx, fmt.Sprintf("%v to see %v %s", observers, of, gossipWord(state)), func() (bool, string) {
		for _, o := range observers {
			states, err := gossipStates(ctx, m, o)
			if err != nil {
				return false, fmt.Sprintf("%s: %v", o, err)
			}
			for _, n := range of {
				if n != o && states[n] != state {
					return false, fmt.Sprintf("%s sees %s %s", o, n, gossipWord(states[n]))
				}
			}
		}
		return true, ""
	})
}

func gossipWord(s ferryv1.GossipState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "GOSSIP_STATE_"))
}

// TestPartitionHealsGossip cuts one node off a real network (its link on
// the bridge down) for longer than gossip's suspicion timeout, so that both
// sides declare the other dead, then restores the link: within 30 s every
// node's `ferry members` must show every other alive, and the healed node
// -- the only mover -- must get work again, including a job submitted while
// it was cut off.
func TestPartitionHealsGossip(t *testing.T) {
	const (
		// partition is longer than gossip's suspicion timeout (4 s for a
		// few nodes: memberlist's SuspicionMult × ProbeInterval) plus
		// its probe rounds, as in the report that found the bug.
		partition = 15 * time.Second
		healTime  = 30 * time.Second
		victim    = "n3"
	)
	names := nodeNames(3)
	lab := newNetLab(t, names)
	m := newMoverCluster(t)
	// The victim is the only mover: work can go nowhere else.
	nodeArgs := map[string][]string{"n1": {"-run-jobs=false"}, "n2": {"-run-jobs=false"}}
	m.startAll(names, nodeArgs, func(ctx context.Context, opts localcluster.StartOptions) error {
		opts.Netns, opts.Host = lab.ns[opts.Name], lab.ip[opts.Name]
		_, err := m.c.StartNode(ctx, opts)
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	others := []string{"n1", "n2"}

	const size = 1 << 20
	data := m.addDisk(ctx, "src", size)
	want := sum(data)
	copyTo := func(dst string) string {
		m.addEmptyDisk(ctx, dst, size)
		return m.submit(ctx, "copy-"+dst, copySpec("to "+dst, diskEndpoint("src", 0, 0), diskEndpoint(dst, 0, 0), 0)).GetId()
	}
	ownedBy := func(id, owner string) {
		t.Helper()
		if j := m.waitSucceeded(ctx, id, want, size); j.GetOwner() != owner {
			t.Errorf("job %s ran on %s, want %s\n%s", id, j.GetOwner(), owner, history(j))
		}
	}
	ownedBy(copyTo("before"), victim)

	cut := time.Now()
	lab.link(victim, false)
	m.shun(victim, true)
	// Both sides must have declared the other dead: that is the state
	// memberlist does not recover from by itself.
	waitSees(t, ctx, m, others, []string{victim}, ferryv1.GossipState_GOSSIP_STATE_DEAD)
	waitSees(t, ctx, m, []string{victim}, others, ferryv1.GossipState_GOSSIP_STATE_DEAD)
	t.Logf("both sides see the other dead %v after the cut", time.Since(cut).Round(time.Millisecond))
	during := copyTo("during")
	select {
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	case <-time.After(time.Until(cut.Add(partition))):
	}
	if j, err := m.job(ctx, during); err != nil || j.GetState() != ferryv1.JobState_JOB_STATE_QUEUED {
		t.Fatalf("a job submitted while the only mover was cut off: %v, want it queued\n%s", err, history(j))
	}

	lab.link(victim, true)
	healed := time.Now()
	m.shun(victim, false)
	hctx, hcancel := context.WithTimeout(ctx, healTime)
	waitSees(t, hctx, m, names, names, ferryv1.GossipState_GOSSIP_STATE_ALIVE)
	hcancel()
	t.Logf("every node sees every other alive %v after the heal", time.Since(healed).Round(time.Millisecond))
	// What an operator would look at: `ferry members` on every node.
	for _, node := range names {
		n, err := m.c.Node(node)
		if err != nil {
			t.Fatal(err)
		}
		r := nodeCLI(t, m.c, n).ok("members", "-o", "json")
		var resp ferryv1.MembersResponse
		if err := protojson.Unmarshal([]byte(r.stdout), &resp); err != nil {
			t.Fatalf("ferry members on %s: %v\n%s", node, err, r)
		}
		for _, mem := range resp.GetMembers() {
			if mem.GetGossipState() != ferryv1.GossipState_GOSSIP_STATE_ALIVE {
				t.Errorf("ferry members on %s shows %s %s\n%s", node, mem.GetNode(), gossipWord(mem.GetGossipState()), r)
			}
		}
		if len(resp.GetMembers()) != len(names) {
			t.Errorf("ferry members on %s shows %d members, want %d\n%s", node, len(resp.GetMembers()), len(names), r)
		}
	}

	// The healed node gets work again: the job that waited for it, and a
	// new one.
	ownedBy(during, victim)
	ownedBy(copyTo("after"), victim)
	var rejoins float64
	for _, node := range names {
		rejoins += m.mustMetric(ctx, node, `ferry_gossip_reconnects_total{result="ok"}`)
	}
	if rejoins == 0 {
		t.Error("no node counted a successful gossip reconnect in ferry_gossip_reconnects_total")
	}
}
