package grpcapi

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// keyringNode is what KeyringServer needs of a node; *cluster.Node
// provides it.
type keyringNode interface {
	Node
	// GossipKeys is the node's own gossip keyring, primary first.
	GossipKeys() [][]byte
	// MemberKeys is what each live member says of its keyring, and a
	// channel closed at the next change.
	MemberKeys() ([]cluster.MemberKeys, <-chan struct{})
}

// keyringSettle is how long a key change waits for the live members to
// report the step before it: they apply each change as they apply the
// log and say so in their gossip metadata, which takes a second or so.
const keyringSettle = 10 * time.Second

// KeyringServer implements KeyringService: the gossip keyring through
// Raft, each step checked against what the live members report, as
// Consul checks its members' answers. Install before use: a member that
// does not hold the primary key cannot read the others. Use before
// remove: a member still encrypting with a removed key goes unheard.
type KeyringServer struct {
	ferryv1.UnimplementedKeyringServiceServer
	node   keyringNode
	settle time.Duration
}

// NewKeyringServer returns a KeyringServer answering from node.
func NewKeyringServer(node keyringNode) *KeyringServer {
	return &KeyringServer{node: node, settle: keyringSettle}
}

func (s *KeyringServer) List(ctx context.Context, _ *ferryv1.KeyringListRequest) (*ferryv1.KeyringListResponse, error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	members, _ := s.node.MemberKeys()
	return s.list(members), nil
}

// Install adds the key everywhere, then waits for the live members to
// hold it; the answer shows where it is.
func (s *KeyringServer) Install(ctx context.Context, req *ferryv1.KeyringKeyRequest) (*ferryv1.KeyringListResponse, error) {
	if err := s.check(ctx, req); err != nil {
		return nil, err
	}
	fp, err := s.propose(ctx, req, func(op *ferryv1.GossipKeyOp) *ferryv1.Command {
		return &ferryv1.Command{Op: &ferryv1.Command_InstallGossipKey{InstallGossipKey: op}}
	})
	if err != nil {
		return nil, err
	}
	members, _ := s.await(ctx, func(m cluster.MemberKeys) bool { return slices.Contains(m.Keys, fp) })
	return s.list(members), nil
}

// Use makes the key primary once every live member holds it.
func (s *KeyringServer) Use(ctx context.Context, req *ferryv1.KeyringKeyRequest) (*ferryv1.KeyringListResponse, error) {
	if err := s.check(ctx, req); err != nil {
		return nil, err
	}
	fp := fsm.GossipKeyFingerprint(req.GetKey())
	if keys, _ := s.keyring(); !slices.ContainsFunc(keys, func(k []byte) bool { return bytes.Equal(k, req.GetKey()) }) {
		return nil, status.Errorf(codes.NotFound, "gossip key %s is not installed: install it first (ferry keyring install)", fp)
	}
	if _, missing := s.await(ctx, func(m cluster.MemberKeys) bool { return slices.Contains(m.Keys, fp) }); len(missing) > 0 {
		return nil, status.Errorf(codes.FailedPrecondition,
			"gossip key %s is not installed on %s yet: once it uses the key, they could not read the others (a member that cannot apply the keyring says why in its log)",
			fp, strings.Join(missing, ", "))
	}
	if _, err := s.propose(ctx, req, func(op *ferryv1.GossipKeyOp) *ferryv1.Command {
		return &ferryv1.Command{Op: &ferryv1.Command_UseGossipKey{UseGossipKey: op}}
	}); err != nil {
		return nil, err
	}
	members, _ := s.await(ctx, func(m cluster.MemberKeys) bool { return len(m.Keys) > 0 && m.Keys[0] == fp })
	return s.list(members), nil
}

// Remove drops a key once no live member encrypts with it.
func (s *KeyringServer) Remove(ctx context.Context, req *ferryv1.KeyringKeyRequest) (*ferryv1.KeyringListResponse, error) {
	if err := s.check(ctx, req); err != nil {
		return nil, err
	}
	fp := fsm.GossipKeyFingerprint(req.GetKey())
	if keys, _ := s.keyring(); len(keys) > 0 && bytes.Equal(keys[0], req.GetKey()) {
		return nil, toStatus(fmt.Errorf("gossip key %s: %w", fp, fsm.ErrPrimaryKey))
	}
	if _, using := s.await(ctx, func(m cluster.MemberKeys) bool { return len(m.Keys) == 0 || m.Keys[0] != fp }); len(using) > 0 {
		return nil, status.Errorf(codes.FailedPrecondition,
			"%s still encrypt with gossip key %s: removed, they would go unheard (wait until they use the primary key)", strings.Join(using, ", "), fp)
	}
	if _, err := s.propose(ctx, req, func(op *ferryv1.GossipKeyOp) *ferryv1.Command {
		return &ferryv1.Command{Op: &ferryv1.Command_RemoveGossipKey{RemoveGossipKey: op}}
	}); err != nil {
		return nil, err
	}
	members, _ := s.await(ctx, func(m cluster.MemberKeys) bool { return !slices.Contains(m.Keys, fp) })
	return s.list(members), nil
}

// check validates the key and brings the state machine up to date.
func (s *KeyringServer) check(ctx context.Context, req *ferryv1.KeyringKeyRequest) error {
	if err := fsm.CheckGossipKey(req.GetKey()); err != nil {
		return invalid(fsm.FieldViolation{Field: "key", Description: err.Error()})
	}
	return linearize(ctx, s.node, false)
}

// keyring is the cluster's keyring, primary first, or, before its first
// change (replicated false), this node's own.
func (s *KeyringServer) keyring() (keys [][]byte, replicated bool) {
	if keys := s.node.FSM().GossipKeys(); len(keys) > 0 {
		return keys, true
	}
	return s.node.GossipKeys(), false
}

// propose proposes the checked change; while the cluster's keyring is
// empty it carries this node's own keys as its seed. It returns the key's
// fingerprint.
func (s *KeyringServer) propose(ctx context.Context, req *ferryv1.KeyringKeyRequest, cmd func(*ferryv1.GossipKeyOp) *ferryv1.Command) (string, error) {
	op := &ferryv1.GossipKeyOp{Key: req.GetKey()}
	if len(s.node.FSM().GossipKeys()) == 0 {
		op.Seed = s.node.GossipKeys()
		if len(op.Seed) == 0 {
			return "", status.Error(codes.FailedPrecondition, "gossip is not encrypted on this cluster: there is no keyring to change (start every node with -gossip-key)")
		}
	}
	if _, err := propose(ctx, s.node, cmd(op)); err != nil {
		return "", err
	}
	return fsm.GossipKeyFingerprint(req.GetKey()), nil
}

// await waits, for up to settle, until ok holds of every live member. It
// returns the members as they last reported and the names of those ok
// does not hold for.
func (s *KeyringServer) await(ctx context.Context, ok func(cluster.MemberKeys) bool) (members []cluster.MemberKeys, failing []string) {
	wait := s.settle
	if d, ok := ctx.Deadline(); ok {
		// Leave the caller time to hear the answer.
		wait = min(wait, time.Until(d)*3/4)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		members, changed := s.node.MemberKeys()
		failing = failing[:0]
		for _, m := range members {
			if !ok(m) {
				failing = append(failing, m.Node)
			}
		}
		if len(failing) == 0 {
			return members, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return members, failing
		}
	}
}

// list is the answer: the cluster's keys (or, before the first change,
// this node's), then any other key a member reports, each with the live
// members that hold it and that encrypt with it.
func (s *KeyringServer) list(members []cluster.MemberKeys) *ferryv1.KeyringListResponse {
	keys, replicated := s.keyring()
	resp := &ferryv1.KeyringListResponse{Replicated: replicated}
	byFP := map[string]*ferryv1.GossipKey{}
	add := func(fp string, inKeyring bool) *ferryv1.GossipKey {
		k := &ferryv1.GossipKey{Fingerprint: fp, InKeyring: inKeyring}
		byFP[fp] = k
		resp.Keys = append(resp.Keys, k)
		return k
	}
	for i, k := range keys {
		add(fsm.GossipKeyFingerprint(k), true).Primary = i == 0
	}
	for _, m := range members {
		resp.Members = append(resp.Members, m.Node)
		for i, fp := range m.Keys {
			k := byFP[fp]
			if k == nil {
				k = add(fp, false)
			}
			k.InstalledOn = append(k.InstalledOn, m.Node)
			if i == 0 {
				k.PrimaryOn = append(k.PrimaryOn, m.Node)
			}
		}
	}
	return resp
}
