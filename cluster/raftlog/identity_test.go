package raftlog

import "testing"

func TestIdentity(t *testing.T) {
	tests := []struct {
		name string
		set  []Identity
	}{
		{"new store has none", nil},
		{"set once", []Identity{{ClusterID: "c-1", ClusterName: "prod", NodeName: "mover-a", RaftID: 0x1234}}},
		{"replaced", []Identity{
			{ClusterID: "c-1", ClusterName: "prod", NodeName: "mover-a", RaftID: 1},
			{ClusterID: "c-2", ClusterName: "prod", NodeName: "mover-a", RaftID: ^uint64(0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, path := openTemp(t, Options{})
			for _, id := range tt.set {
				if err := s.SetIdentity(id); err != nil {
					t.Fatalf("SetIdentity: %v", err)
				}
			}
			check := func(st *Store) {
				got, ok, err := st.Identity()
				if err != nil {
					t.Fatalf("Identity: %v", err)
				}
				if wantOK := len(tt.set) > 0; ok != wantOK {
					t.Fatalf("Identity ok = %v, want %v", ok, wantOK)
				}
				var want Identity
				if len(tt.set) > 0 {
					want = tt.set[len(tt.set)-1]
				}
				if got != want {
					t.Fatalf("Identity = %+v, want %+v", got, want)
				}
			}
			check(s)
			check(reopen(t, s, path, Options{}))
		})
	}
}
