package cluster

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestKeyringFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), KeyringFileName)
	if _, ok, err := readKeyringFile(path); ok || err != nil {
		t.Fatalf("no file: ok %v, err %v", ok, err)
	}
	want := keyringFile{Index: 42, Keys: [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16)}}
	if err := writeKeyringFile(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v, %v; want mode 0600", fi, err)
	}
	got, ok, err := readKeyringFile(path)
	if err != nil || !ok || got.Index != want.Index || !slices.EqualFunc(got.Keys, want.Keys, bytes.Equal) {
		t.Fatalf("read back %+v, %v, %v", got, ok, err)
	}
	if left, _ := filepath.Glob(path + ".*"); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	for name, body := range map[string]string{
		"not JSON":        "{",
		"no keys":         `{"index":1,"keys":[]}`,
		"a short key":     `{"index":1,"keys":["c2hvcnQ="]}`,
		"not base64 keys": `{"index":1,"keys":["!"]}`,
	} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := readKeyringFile(path); ok || err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: ok %v, err %v; want an error naming the file", name, ok, err)
		}
	}
}

// TestGossipSetKeys rotates the key of two gossiping members as the
// nodes do, one member a step ahead of the other each time: they stay
// alive to each other throughout and learn each other's fingerprints.
func TestGossipSetKeys(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	start := func(name string, id uint64) *Gossip {
		t.Helper()
		port := freePort(t)
		g, err := startGossip(gossipConfig{name: name, label: "keyring-test", bindAddr: "127.0.0.1", advertise: "127.0.0.1",
			port: port, adPort: port, meta: nodeMeta{RaftID: id}, keys: [][]byte{k1}, logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Leave(time.Second) })
		return g
	}
	a, b := start("a", 1), start("b", 2)
	if err := a.Join([]string{b.LocalAddr()}); err != nil {
		t.Fatal(err)
	}
	reports := func(g *Gossip, name string, keys ...[]byte) func() bool {
		return func() bool {
			for _, m := range g.Members() {
				if m.Name == name {
					return slices.Equal(m.Keys, fingerprints(keys))
				}
			}
			return false
		}
	}
	eventually(t, 10*time.Second, "b to see a's key", reports(b, "a", k1))
	for _, step := range []struct {
		what string
		keys [][]byte
	}{
		{"install", [][]byte{k1, k2}},
		{"use", [][]byte{k2, k1}},
		{"remove", [][]byte{k2}},
	} {
		for _, g := range []*Gossip{a, b} {
			if err := g.SetKeys(step.keys); err != nil {
				t.Fatalf("%s: %v", step.what, err)
			}
			if got := g.Keys(); !slices.EqualFunc(got, step.keys, bytes.Equal) {
				t.Fatalf("%s: keys %x, want %x", step.what, got, step.keys)
			}
		}
		eventually(t, 10*time.Second, step.what+": each to see the other's keys", func() bool {
			return reports(a, "b", step.keys...)() && reports(b, "a", step.keys...)()
		})
	}
	for _, m := range append(a.Members(), b.Members()...) {
		if m.State != ferryv1.GossipState_GOSSIP_STATE_ALIVE {
			t.Errorf("%s is %v after the rotation", m.Name, m.State)
		}
	}
}
