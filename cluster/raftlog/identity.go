package raftlog

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Identity is who this node is, fixed when it first joins a cluster and
// checked on every restart so a data dir is never reused by another node or
// cluster.
type Identity struct {
	ClusterID   string `json:"cluster_id"`
	ClusterName string `json:"cluster_name"`
	NodeName    string `json:"node_name"`
	RaftID      uint64 `json:"raft_id"`
}

func decodeIdentity(v []byte) (Identity, error) {
	var id Identity
	payload, err := unseal(v)
	if err != nil {
		return id, err
	}
	err = json.Unmarshal(payload, &id)
	return id, err
}

// Identity returns the stored identity; ok is false for a store that has none yet.
func (s *Store) Identity() (id Identity, ok bool, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyIdentity)
		if v == nil {
			return nil
		}
		var derr error
		if id, derr = decodeIdentity(v); derr != nil {
			return s.corrupt("decode identity: %v", derr)
		}
		ok = true
		return nil
	})
	if err != nil {
		return Identity{}, false, err
	}
	return id, ok, nil
}

// SetIdentity stores id durably (fsynced), replacing any previous identity.
func (s *Store) SetIdentity(id Identity) error {
	payload, err := json.Marshal(id)
	if err != nil {
		return fmt.Errorf("raftlog: encode identity: %w", err)
	}
	v := seal(payload)
	err = s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyIdentity, v) })
	if err != nil {
		return fmt.Errorf("raftlog: set identity in %s: %w", s.path, err)
	}
	return nil
}
