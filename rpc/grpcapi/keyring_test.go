package grpcapi

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// keyringFake is a one-node cluster whose members n1, n2 and n3 report
// the state machine's keyring at once, except a member told to lag, which
// reports the keys given.
type keyringFake struct {
	*fakeNode
	local [][]byte
	mu    sync.Mutex
	lag   map[string][][]byte
}

func (f *keyringFake) GossipKeys() [][]byte { return f.local }

func (f *keyringFake) MemberKeys() ([]cluster.MemberKeys, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := f.fsm.GossipKeys()
	if len(keys) == 0 {
		keys = f.local
	}
	var out []cluster.MemberKeys
	for _, n := range []string{"n1", "n2", "n3"} {
		ks := keys
		if lag, ok := f.lag[n]; ok {
			ks = lag
		}
		m := cluster.MemberKeys{Node: n}
		for _, k := range ks {
			m.Keys = append(m.Keys, fsm.GossipKeyFingerprint(k))
		}
		out = append(out, m)
	}
	return out, nil // nothing changes by itself: await times out
}

func (f *keyringFake) setLag(node string, keys ...[]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if keys == nil {
		delete(f.lag, node)
		return
	}
	f.lag[node] = keys
}

func TestKeyringServer(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	fp1, fp2 := fsm.GossipKeyFingerprint(k1), fsm.GossipKeyFingerprint(k2)
	node := &keyringFake{fakeNode: newFakeNode(), local: [][]byte{k1}, lag: map[string][][]byte{}}
	s := NewKeyringServer(node)
	s.settle = 50 * time.Millisecond
	ctx := context.Background()
	req := func(k []byte) *ferryv1.KeyringKeyRequest { return &ferryv1.KeyringKeyRequest{Key: k} }
	refused := func(what string, err error, code codes.Code, msg string) {
		t.Helper()
		if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), msg) {
			t.Fatalf("%s: %v, want %v with %q", what, err, code, msg)
		}
	}
	keys := func(resp *ferryv1.KeyringListResponse) string {
		var b strings.Builder
		for _, k := range resp.GetKeys() {
			b.WriteString(k.GetFingerprint())
			if k.GetPrimary() {
				b.WriteString("*")
			}
			b.WriteString(" " + strings.Join(k.GetInstalledOn(), ",") + "/" + strings.Join(k.GetPrimaryOn(), ",") + ";")
		}
		return b.String()
	}

	resp, err := s.List(ctx, &ferryv1.KeyringListRequest{})
	if err != nil || resp.GetReplicated() || keys(resp) != fp1+"* n1,n2,n3/n1,n2,n3;" {
		t.Fatalf("list before any change: %v %v", keys(resp), err)
	}
	_, err = s.Install(ctx, req([]byte("short")))
	refused("a 5-byte key", err, codes.InvalidArgument, "5 bytes, want 16, 24 or 32")
	_, err = s.Use(ctx, req(k2))
	refused("use before install", err, codes.NotFound, "install it first")

	// n3 misses the install: use waits for it, then refuses naming it.
	node.setLag("n3", k1)
	resp, err = s.Install(ctx, req(k2))
	if err != nil || !resp.GetReplicated() || keys(resp) != fp1+"* n1,n2,n3/n1,n2,n3;"+fp2+" n1,n2/;" {
		t.Fatalf("install: %v %v", keys(resp), err)
	}
	_, err = s.Use(ctx, req(k2))
	refused("use while n3 lacks the key", err, codes.FailedPrecondition, "is not installed on n3 yet")
	if got := node.fsm.GossipKeys(); !bytes.Equal(got[0], k1) {
		t.Fatal("a refused use changed the primary")
	}

	// n3 catches up, then lags behind the use: remove waits for it.
	node.setLag("n3", k1, k2)
	resp, err = s.Use(ctx, req(k2))
	if err != nil || keys(resp) != fp2+"* n1,n2,n3/n1,n2;"+fp1+" n1,n2,n3/n3;" {
		t.Fatalf("use: %v %v", keys(resp), err)
	}
	_, err = s.Remove(ctx, req(k1))
	refused("remove while n3 encrypts with the key", err, codes.FailedPrecondition, "n3 still encrypt with gossip key "+fp1)
	_, err = s.Remove(ctx, req(k2))
	refused("remove of the primary", err, codes.FailedPrecondition, "make another key primary first")

	node.setLag("n3")
	resp, err = s.Remove(ctx, req(k1))
	if err != nil || keys(resp) != fp2+"* n1,n2,n3/n1,n2,n3;" {
		t.Fatalf("remove: %v %v", keys(resp), err)
	}
}

func TestKeyringServerPlaintext(t *testing.T) {
	s := NewKeyringServer(&keyringFake{fakeNode: newFakeNode(), lag: map[string][][]byte{}})
	_, err := s.Install(context.Background(), &ferryv1.KeyringKeyRequest{Key: bytes.Repeat([]byte{1}, 16)})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "gossip is not encrypted") {
		t.Fatalf("install on a plaintext cluster: %v", err)
	}
}
