package fsm

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func keyCmd(action gossipKeyAction, key []byte, seed ...[]byte) *ferryv1.Command {
	c := &ferryv1.Command{RequestId: "keyring", Time: stamp(1), Node: "node-a"}
	op := &ferryv1.GossipKeyOp{Key: key, Seed: seed}
	switch action {
	case installGossipKey:
		c.Op = &ferryv1.Command_InstallGossipKey{InstallGossipKey: op}
	case useGossipKey:
		c.Op = &ferryv1.Command_UseGossipKey{UseGossipKey: op}
	default:
		c.Op = &ferryv1.Command_RemoveGossipKey{RemoveGossipKey: op}
	}
	return c
}

func testKey(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func TestGossipKeyring(t *testing.T) {
	k1, k2, k3 := testKey(1, 32), testKey(2, 16), testKey(3, 24)
	type step struct {
		action gossipKeyAction
		key    []byte
		seed   [][]byte
		// want is the keyring after the step (primary first); err the
		// error it fails with (the keyring then unchanged).
		want     [][]byte
		err      error
		msg      string
		existing bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"the rotation: install, use, remove the old key", []step{
			{action: installGossipKey, key: k2, seed: [][]byte{k1}, want: [][]byte{k1, k2}},
			{action: useGossipKey, key: k2, want: [][]byte{k2, k1}},
			{action: removeGossipKey, key: k1, want: [][]byte{k2}},
		}},
		{"the seed is read only while the keyring is empty", []step{
			{action: installGossipKey, key: k2, seed: [][]byte{k1, k1}, want: [][]byte{k1, k2}},
			{action: installGossipKey, key: k3, seed: [][]byte{k3}, want: [][]byte{k1, k2, k3}},
		}},
		{"no seed on an empty keyring", []step{
			{action: installGossipKey, key: k2, err: ErrInvalid, msg: "seed: required"},
		}},
		{"a seed key of a wrong size", []step{
			{action: installGossipKey, key: k2, seed: [][]byte{testKey(1, 31)}, err: ErrInvalid, msg: "seed[0]: 31 bytes, want 16, 24 or 32"},
		}},
		{"a key of a wrong size", []step{
			{action: installGossipKey, key: testKey(2, 8), seed: [][]byte{k1}, err: ErrInvalid, msg: "key: 8 bytes"},
		}},
		{"installing an installed key, using the primary: no change", []step{
			{action: installGossipKey, key: k1, seed: [][]byte{k1}, want: [][]byte{k1}, existing: true},
			{action: useGossipKey, key: k1, want: [][]byte{k1}, existing: true},
		}},
		{"use of a key not installed", []step{
			{action: installGossipKey, key: k2, seed: [][]byte{k1}, want: [][]byte{k1, k2}},
			{action: useGossipKey, key: k3, err: ErrNotFound, msg: "gossip key " + GossipKeyFingerprint(k3) + ": not found: install it first"},
		}},
		{"remove of the primary and of an unknown key", []step{
			{action: installGossipKey, key: k2, seed: [][]byte{k1}, want: [][]byte{k1, k2}},
			{action: removeGossipKey, key: k1, err: ErrPrimaryKey, msg: "make another key primary first"},
			{action: removeGossipKey, key: k3, err: ErrNotFound, msg: "does not have it"},
			{action: removeGossipKey, key: k2, want: [][]byte{k1}},
		}},
		{"a failed first change starts no keyring", []step{
			{action: removeGossipKey, key: k1, seed: [][]byte{k1}, err: ErrPrimaryKey},
			{action: useGossipKey, key: k1, seed: [][]byte{k2}, err: ErrNotFound},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New()
			var before [][]byte
			for i, s := range tt.steps {
				r := apply(f, keyCmd(s.action, s.key, s.seed...))
				got := f.GossipKeys()
				if s.err != nil {
					if !errors.Is(r.Err, s.err) || !strings.Contains(r.Err.Error(), s.msg) {
						t.Fatalf("step %d: %v, want %v with %q", i, r.Err, s.err, s.msg)
					}
					if !equalKeys(got, before) {
						t.Fatalf("step %d: a refused change changed the keyring to %x", i, got)
					}
					continue
				}
				if r.Err != nil || r.Existing != s.existing {
					t.Fatalf("step %d: %+v, want existing %v", i, r, s.existing)
				}
				if !equalKeys(got, s.want) {
					t.Fatalf("step %d: keyring %x, want %x", i, got, s.want)
				}
				before = got
			}
		})
	}
}

func TestGossipKeyringFull(t *testing.T) {
	f := New()
	seed := testKey(100, 32)
	for i := range MaxGossipKeys - 1 {
		if r := apply(f, keyCmd(installGossipKey, testKey(byte(i), 32), seed)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if r := apply(f, keyCmd(installGossipKey, testKey(200, 32))); !errors.Is(r.Err, ErrKeyringFull) {
		t.Fatalf("key %d: %v, want ErrKeyringFull", MaxGossipKeys+1, r.Err)
	}
}

func TestGossipKeyringSnapshot(t *testing.T) {
	f := New()
	k1, k2 := testKey(1, 32), testKey(2, 32)
	apply(f, keyCmd(installGossipKey, k2, k1))
	apply(f, keyCmd(useGossipKey, k2))
	g := restored(t, f)
	if got := g.GossipKeys(); !equalKeys(got, [][]byte{k2, k1}) {
		t.Fatalf("restored keyring %x", got)
	}
	for name, keys := range map[string][][]byte{
		"a key of a wrong size": {k1, testKey(3, 7)},
		"a key twice":           {k1, k1},
	} {
		bad, err := proto.Marshal(&ferryv1.StateSnapshot{GossipKeys: keys})
		if err != nil {
			t.Fatal(err)
		}
		if err := New().Restore(bad, 1); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: %v, want ErrBadSnapshot", name, err)
		}
	}
}

func equalKeys(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
