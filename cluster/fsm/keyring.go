package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// The gossip keyring (keyring.go): the keys memberlist encrypts gossip
// with, primary first. It starts empty, meaning "the nodes' own
// -gossip-key": the first GossipKeyOp starts it from its seed, the
// proposer's own keyring. Install adds a key, use makes an installed key
// the primary, remove drops a key that is not the primary. Every node
// applies the result to its own gossip (cluster's keyring sync); the keys
// are in the log and the snapshots, as the ACL secrets are.

// MaxGossipKeys bounds the keyring: each node advertises its keys'
// fingerprints in its gossip metadata, which memberlist caps at 512 bytes.
const MaxGossipKeys = 8

var (
	// ErrPrimaryKey: removing the key every node encrypts with.
	ErrPrimaryKey = errors.New("it is the primary gossip key: make another key primary first (ferry keyring use)")
	// ErrKeyringFull: installing a key into a keyring of MaxGossipKeys.
	ErrKeyringFull = fmt.Errorf("the gossip keyring holds %d keys: remove one first (ferry keyring remove)", MaxGossipKeys)
)

// CheckGossipKey says what is wrong with a gossip key, if anything: AES
// wants 16, 24 or 32 bytes.
func CheckGossipKey(key []byte) error {
	if n := len(key); n != 16 && n != 24 && n != 32 {
		return fmt.Errorf("%d bytes, want 16, 24 or 32 (\"ferry keygen\" makes 32)", n)
	}
	return nil
}

// GossipKeyFingerprint names a key without giving it away: the first 8
// bytes of its SHA-256, base64 without padding.
func GossipKeyFingerprint(key []byte) string {
	h := sha256.Sum256(key)
	return base64.RawStdEncoding.EncodeToString(h[:8])
}

// gossipKeyAction is what a GossipKeyOp does to the keyring.
type gossipKeyAction int

const (
	installGossipKey gossipKeyAction = iota
	useGossipKey
	removeGossipKey
)

// changeGossipKeys applies one GossipKeyOp. existing reports a change that
// changed nothing (installing a key the keyring has, using the primary).
func (s *state) changeGossipKeys(cmd *ferryv1.Command, action gossipKeyAction, op *ferryv1.GossipKeyOp) (existing bool, err error) {
	var v violations
	v.commandTime(cmd)
	if err := CheckGossipKey(op.GetKey()); err != nil {
		v.add("key", err.Error())
	}
	keys := s.gossipKeys
	if len(keys) == 0 {
		if len(op.GetSeed()) == 0 {
			v.add("seed", "required while the cluster's keyring is empty: the proposer's own keys")
		}
		for i, k := range op.GetSeed() {
			if err := CheckGossipKey(k); err != nil {
				v.add(fmt.Sprintf("seed[%d]", i), err.Error())
			}
		}
		keys = dedupKeys(op.GetSeed())
	}
	if len(v) > 0 {
		return false, &ValidationError{Violations: v}
	}
	next, existing, err := gossipKeysAfter(keys, action, op.GetKey())
	if err != nil {
		return false, err
	}
	s.gossipKeys = next
	return existing, nil
}

// gossipKeysAfter is the keyring (primary first) after the action on key.
func gossipKeysAfter(keys [][]byte, action gossipKeyAction, key []byte) (next [][]byte, existing bool, err error) {
	i := slices.IndexFunc(keys, func(k []byte) bool { return bytes.Equal(k, key) })
	fp := GossipKeyFingerprint(key)
	switch action {
	case installGossipKey:
		if i >= 0 {
			return keys, true, nil
		}
		if len(keys) >= MaxGossipKeys {
			return nil, false, fmt.Errorf("gossip key %s: %w", fp, ErrKeyringFull)
		}
		return append(slices.Clone(keys), bytes.Clone(key)), false, nil
	case useGossipKey:
		switch {
		case i < 0:
			return nil, false, fmt.Errorf("gossip key %s: %w: install it first (ferry keyring install)", fp, ErrNotFound)
		case i == 0:
			return keys, true, nil
		}
		next = append([][]byte{keys[i]}, keys[:i]...)
		return append(next, keys[i+1:]...), false, nil
	default:
		switch {
		case i < 0:
			return nil, false, fmt.Errorf("gossip key %s: %w: the cluster's keyring does not have it", fp, ErrNotFound)
		case i == 0:
			return nil, false, fmt.Errorf("gossip key %s: %w", fp, ErrPrimaryKey)
		}
		return slices.Delete(slices.Clone(keys), i, i+1), false, nil
	}
}

// dedupKeys copies keys, dropping repeats, in order.
func dedupKeys(keys [][]byte) [][]byte {
	var out [][]byte
	for _, k := range keys {
		if !slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, k) }) {
			out = append(out, bytes.Clone(k))
		}
	}
	return out
}

// GossipKeys returns a copy of the cluster's gossip keyring, primary
// first; none until the first GossipKeyOp.
func (f *FSM) GossipKeys() [][]byte {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([][]byte, len(f.st.gossipKeys))
	for i, k := range f.st.gossipKeys {
		out[i] = bytes.Clone(k)
	}
	return out
}

// restoreGossipKeys rebuilds the keyring, refusing keys an op would have
// refused and duplicates.
func (s *state) restoreGossipKeys(snap *ferryv1.StateSnapshot) error {
	keys := snap.GetGossipKeys()
	if len(keys) > MaxGossipKeys {
		return fmt.Errorf("%w: %d gossip keys, at most %d", ErrBadSnapshot, len(keys), MaxGossipKeys)
	}
	for i, k := range keys {
		if err := CheckGossipKey(k); err != nil {
			return fmt.Errorf("%w: gossip key %d: %w", ErrBadSnapshot, i, err)
		}
	}
	if len(dedupKeys(keys)) != len(keys) {
		return fmt.Errorf("%w: a gossip key appears twice", ErrBadSnapshot)
	}
	s.gossipKeys = keys
	return nil
}
