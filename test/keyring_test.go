package test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestKeyringRotation: on a running secure 3-node cluster with a copy in
// flight, the administrator rotates the gossip key with ferry keyring
// (install a new key, use it, remove the old one), each step through a
// different node. Using a key before it is installed and removing the
// primary are refused. No member is ever anything but alive on any node
// during the rotation, no node's gossip suspects a member or fails to
// decrypt a message, the copy completes with the right bytes, and every
// node lists the new key only and keeps it in gossip.keyring (0600). A
// node restarted with its old -gossip-key starts from that file and
// rejoins. A node that is down through a second rotation comes back with
// the key the cluster dropped: it catches up through Raft, which needs no
// gossip, applies the rotation and gossips again.
func TestKeyringRotation(t *testing.T) {
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	names := nodeNames(3)
	clis := map[string]cli{}
	for _, n := range names {
		node, err := m.c.Node(n)
		if err != nil {
			t.Fatal(err)
		}
		clis[n] = nodeCLI(t, m.c, node)
	}
	oldKey, err := m.c.GossipKey()
	if err != nil {
		t.Fatal(err)
	}
	newKey, newerKey := randomGossipKey(t), randomGossipKey(t)
	oldFP, newFP, newerFP := fingerprint(t, oldKey), fingerprint(t, newKey), fingerprint(t, newerKey)

	out := clis["n1"].ok("keyring", "list")
	if !strings.Contains(out.stdout, oldFP) || !strings.Contains(out.stdout, "has not changed since the cluster started") {
		t.Fatalf("keyring list before any change:\n%s", out)
	}
	clis["n1"].fails(1, []string{"gossip key " + newFP + " is not installed: install it first"}, "keyring", "use", "-gossip-key", newKey)
	clis["n1"].fails(2, []string{"-gossip-key: 5 bytes, want 16, 24 or 32"}, "keyring", "install", "-gossip-key", "c2hvcnQ=")

	// A 16 MiB copy at 1 MiB/s: about 12 s (the mover reads 4 MiB ahead
	// of its pace), through the rotation.
	const size = 16 << 20
	data := m.addDisk(ctx, "src", size)
	m.addEmptyDisk(ctx, "dst", size)
	job := m.submit(ctx, "keyring-copy", copySpec("src to dst", diskEndpoint("src", 0, 0), diskEndpoint("dst", 0, 0), 1<<20))
	m.waitJob(ctx, job.GetId(), "its first checkpoint", func(j *ferryv1.Job) (bool, string) { return running(j, 1) })

	// Every node's view of every member, polled until the rotation ends.
	watch := watchMembers(t, m, names)
	rotationStart := time.Now()

	// 1. Install, through n2: every member holds the new key.
	out = clis["n2"].ok("keyring", "install", "-gossip-key", newKey)
	if !keyRow(out.stdout, newFP, "no", "3/3", "0/3") || !keyRow(out.stdout, oldFP, "yes", "3/3", "3/3") {
		t.Fatalf("after install:\n%s", out)
	}
	clis["n1"].fails(1, []string{"primary gossip key", "ferry keyring use"}, "keyring", "remove", "-gossip-key", oldKey)

	// 2. Use, through n3: every member encrypts with it.
	out = clis["n3"].ok("keyring", "use", "-gossip-key", newKey)
	if !keyRow(out.stdout, newFP, "yes", "3/3", "3/3") || !keyRow(out.stdout, oldFP, "no", "3/3", "0/3") {
		t.Fatalf("after use:\n%s", out)
	}

	// 3. Remove the old key, through n1.
	out = clis["n1"].ok("keyring", "remove", "-gossip-key", oldKey)
	if strings.Contains(out.stdout, oldFP) || !keyRow(out.stdout, newFP, "yes", "3/3", "3/3") {
		t.Fatalf("after remove:\n%s", out)
	}
	if got, err := m.job(ctx, job.GetId()); err != nil || got.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		t.Logf("the copy ended before the rotation did (%v, %v): the rotation raced no copy", got.GetState(), err)
	}
	// Each node sees the others' keys in their gossip metadata: a node
	// other than n1 may list n1's old key a moment after n1 dropped it.
	for _, n := range names {
		waitKeyring(t, ctx, clis[n], "keyring list on "+n+" to show the new key alone", newFP, "3/3", "3/3")
	}
	if bad := watch.stop(); len(bad) > 0 {
		t.Errorf("members not alive during the rotation:\n%s", strings.Join(bad, "\n"))
	}
	// The member lists show deaths; a suspicion, or a packet no key
	// could open, only memberlist's log lines do.
	for _, n := range names {
		if bad := gossipTrouble(t, m, n, rotationStart, time.Now()); len(bad) > 0 {
			t.Errorf("%s's gossip during the rotation:\n%s", n, strings.Join(bad, "\n"))
		}
	}
	m.waitSucceeded(ctx, job.GetId(), sum(data), size)

	for _, n := range names {
		path := filepath.Join(m.c.DataDir(n), cluster.KeyringFileName)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), oldKey) || !strings.Contains(string(b), newKey) {
			t.Errorf("%s does not hold the new key alone", path)
		}
	}

	// A restart with the same flags (the old -gossip-key): the node
	// starts from gossip.keyring and rejoins.
	if err := m.c.Restart(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	waitKeyring(t, ctx, clis["n1"], "n3 to rejoin with the new key", newFP, "3/3", "3/3")
	if tail, _ := m.c.Tail("n3", 400); !strings.Contains(tail, "gossip keyring from the data dir") || !strings.Contains(tail, "ignored=") {
		t.Errorf("n3's log does not say it started from gossip.keyring instead of -gossip-key:\n%s", tail)
	}

	// A second rotation while n3 is down: it comes back with the key the
	// others dropped, and catches up through Raft.
	if err := m.c.Stop(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	// A graceful stop: the others record n3 left, not dead.
	waitSees(t, ctx, m, []string{"n1", "n2"}, []string{"n3"}, ferryv1.GossipState_GOSSIP_STATE_LEFT)
	clis["n1"].ok("keyring", "install", "-gossip-key", newerKey)
	clis["n2"].ok("keyring", "use", "-gossip-key", newerKey)
	clis["n1"].ok("keyring", "remove", "-gossip-key", newKey)
	if err := m.c.Restart(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	waitKeyring(t, ctx, clis["n1"], "n3, back after missing a rotation, to gossip with the newer key", newerFP, "3/3", "3/3")
	out = clis["n3"].ok("keyring", "list")
	if strings.Contains(out.stdout, newFP) || !keyRow(out.stdout, newerFP, "yes", "3/3", "3/3") {
		t.Fatalf("keyring list on n3 after it caught up:\n%s", out)
	}
	if err := m.c.WaitReady(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
}

// gossipTrouble returns the node's log lines between from and to that
// say gossip suspected a member or could not decrypt a message.
func gossipTrouble(t *testing.T, m *moverCluster, node string, from, to time.Time) []string {
	t.Helper()
	tail, err := m.c.Tail(node, 5000)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for _, line := range strings.Split(tail, "\n") {
		at, err := localcluster.LogTime(line)
		if err != nil || at.Before(from) || at.After(to) {
			continue
		}
		if strings.Contains(line, "component=gossip") && (strings.Contains(line, "Suspect ") || strings.Contains(line, "Marking ") || strings.Contains(strings.ToLower(line), "decrypt")) {
			bad = append(bad, line)
		}
	}
	return bad
}

// keyRow reports whether the keyring table has the key's row with the
// primary, installed and encrypting columns given.
func keyRow(table, fp, primary, installed, encrypting string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == fp {
			return f[1] == primary && f[2] == installed && f[3] == encrypting
		}
	}
	return false
}

// waitKeyring waits until run's keyring list shows the key primary,
// installed and encrypting on the counts given, and no other key.
func waitKeyring(t *testing.T, ctx context.Context, run cli, what, fp, installed, encrypting string) {
	t.Helper()
	waitFor(t, ctx, what, func() (bool, string) {
		r := run.run("keyring", "list")
		lines := strings.Count(strings.TrimSpace(r.stdout), "\n") + 1
		return r.code == 0 && keyRow(r.stdout, fp, "yes", installed, encrypting) && lines == 2, r.String()
	})
}

func randomGossipKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func fingerprint(t *testing.T, key string) string {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	return fsm.GossipKeyFingerprint(k)
}

// memberWatch polls every node's member list and keeps every sighting of
// a member that is not alive.
type memberWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	bad    []string
}

func watchMembers(t *testing.T, m *moverCluster, names []string) *memberWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &memberWatch{cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	for _, n := range names {
		client, err := m.c.Client(n)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
				resp, err := client.Cluster.Members(cctx, &ferryv1.MembersRequest{})
				ccancel()
				if err == nil {
					for _, mem := range resp.GetMembers() {
						if st := mem.GetGossipState(); st != ferryv1.GossipState_GOSSIP_STATE_ALIVE {
							w.note(fmt.Sprintf("%s %s sees %s %s", time.Now().Format("15:04:05.000"), n, mem.GetNode(), st))
						}
					}
				}
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(w.done)
	}()
	return w
}

func (w *memberWatch) note(s string) {
	w.mu.Lock()
	w.bad = append(w.bad, s)
	w.mu.Unlock()
}

// stop ends the polling and returns the sightings.
func (w *memberWatch) stop() []string {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bad
}
