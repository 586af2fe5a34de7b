package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// The gossip keyring is replicated state (fsm's GossipKeyOps): every node
// applies each committed change to its own memberlist keyring and keeps
// the result in DATA_DIR/gossip.keyring, which it starts from the next
// time, in place of Config.GossipKeys. A node that was down while the
// cluster rotated starts with a key the others no longer read, so its
// gossip goes unheard; its Raft traffic does not need gossip (mutual TLS
// gRPC to the addresses in the replicated membership), so it catches up,
// applies the rotation and gossips again.

// KeyringFileName is the file in the data dir that keeps the node's
// gossip keyring.
const KeyringFileName = "gossip.keyring"

// keyringFile is gossip.keyring: the keys (primary first, base64 in
// JSON) and the index of the entry that made them, so that replaying
// the log at start does not step back through older keyrings.
type keyringFile struct {
	Index uint64   `json:"index"`
	Keys  [][]byte `json:"keys"`
}

func (n *Node) keyringPath() string { return filepath.Join(n.cfg.DataDir, KeyringFileName) }

// readKeyringFile reads gossip.keyring; ok is false when there is none.
func readKeyringFile(path string) (kf keyringFile, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return keyringFile{}, false, nil
	}
	if err != nil {
		return keyringFile{}, false, err
	}
	if err := json.Unmarshal(b, &kf); err != nil {
		return keyringFile{}, false, fmt.Errorf("%s: %w", path, err)
	}
	if len(kf.Keys) == 0 {
		return keyringFile{}, false, fmt.Errorf("%s: no keys", path)
	}
	for i, k := range kf.Keys {
		if err := fsm.CheckGossipKey(k); err != nil {
			return keyringFile{}, false, fmt.Errorf("%s: key %d: %w", path, i, err)
		}
	}
	return kf, true, nil
}

// writeKeyringFile replaces gossip.keyring at once (a rename of a synced
// file, mode 0600): a crash leaves the old keyring or the new one.
func writeKeyringFile(path string, kf keyringFile) error {
	b, err := json.Marshal(kf)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), KeyringFileName+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// startingGossipKeys is the keyring gossip starts with: gossip.keyring
// when the node has one (it holds the cluster's rotations), else
// Config.GossipKeys. It sets keyringIndex.
func (n *Node) startingGossipKeys() ([][]byte, error) {
	kf, ok, err := readKeyringFile(n.keyringPath())
	if err != nil {
		return nil, fmt.Errorf("gossip keyring: %w", err)
	}
	if !ok {
		return n.cfg.GossipKeys, nil
	}
	n.keyringIndex = kf.Index
	attrs := []any{"file", n.keyringPath(), "keys", len(kf.Keys), "primary", fsm.GossipKeyFingerprint(kf.Keys[0]), "index", kf.Index}
	if len(n.cfg.GossipKeys) > 0 && !bytes.Equal(n.cfg.GossipKeys[0], kf.Keys[0]) {
		// After a rotation the flag still names the old key: the file wins.
		attrs = append(attrs, "ignored", "-gossip-key (an older key: the cluster rotated with ferry keyring)")
	}
	n.log.Info("gossip keyring from the data dir", attrs...)
	return kf.Keys, nil
}

// isGossipKeyOp reports whether the command changes the gossip keyring.
func isGossipKeyOp(cmd *ferryv1.Command) bool {
	switch cmd.GetOp().(type) {
	case *ferryv1.Command_InstallGossipKey, *ferryv1.Command_UseGossipKey, *ferryv1.Command_RemoveGossipKey:
		return true
	}
	return false
}

// syncGossipKeys makes this node's gossip keyring the state machine's as of
// the entry (or snapshot) at index, and keeps it in gossip.keyring. It runs
// on the apply loop; entries the file already reflects are skipped.
func (n *Node) syncGossipKeys(index uint64) {
	keys := n.fsm.GossipKeys()
	if len(keys) == 0 || index <= n.keyringIndex {
		return
	}
	if slices.EqualFunc(keys, n.gossip.Keys(), bytes.Equal) {
		return
	}
	fps := fingerprints(keys)
	if err := n.gossip.SetKeys(keys); err != nil {
		// Only a node gossiping in plaintext: the file below gives it
		// the keys at its next start.
		n.log.Error("cannot apply the cluster's gossip keyring: it takes effect at the next start", "err", err, "keys", fps)
	} else {
		n.log.Info("gossip keyring changed", "keys", fps, "primary", fps[0], "index", index)
		select {
		case n.keyringChanged <- struct{}{}:
		default:
		}
	}
	if err := writeKeyringFile(n.keyringPath(), keyringFile{Index: index, Keys: keys}); err != nil {
		n.log.Error("cannot save the gossip keyring: a restart starts from the older one and catches up through Raft", "file", n.keyringPath(), "err", err)
		return
	}
	n.keyringIndex = index
}

// MemberKeys is what a live member of this cluster says of its gossip
// keyring: the fingerprints (fsm.GossipKeyFingerprint) of its keys,
// primary first.
type MemberKeys struct {
	Node string
	Keys []string
}

// GossipKeys returns this node's own gossip keyring, primary first (none:
// plaintext gossip).
func (n *Node) GossipKeys() [][]byte { return n.gossip.Keys() }

// MemberKeys returns what every live member of this cluster (alive in
// gossip) says of its gossip keyring, sorted by name, and a
// channel closed at the next change.
func (n *Node) MemberKeys() ([]MemberKeys, <-chan struct{}) {
	changed := n.gossip.Changed()
	var out []MemberKeys
	for _, m := range n.gossip.Members() {
		if m.ClusterID != n.clusterID || m.State != ferryv1.GossipState_GOSSIP_STATE_ALIVE {
			continue
		}
		out = append(out, MemberKeys{Node: m.Name, Keys: m.Keys})
	}
	slices.SortFunc(out, func(a, b MemberKeys) int { return strings.Compare(a.Node, b.Node) })
	return out, changed
}
