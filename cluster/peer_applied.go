package cluster

import (
	"context"
	"fmt"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// PeerApplied asks the node whose gRPC API is at addr how far its state
// machine has applied the log (ClusterService.RaftStatus). Its observers
// (OnApply) have seen every entry up to that index: the iSCSI target uses
// it to learn that every node's portal enforces a reservation change
// before it answers the initiator that made it.
func (n *Node) PeerApplied(ctx context.Context, addr string) (uint64, error) {
	conn, err := n.leases.conn(n, addr, "")
	if err != nil {
		return 0, err
	}
	st, err := ferryv1.NewClusterServiceClient(conn).RaftStatus(ctx, &ferryv1.RaftStatusRequest{})
	if err != nil {
		return 0, fmt.Errorf("applied index of %s: %w", addr, err)
	}
	if st.GetClusterId() != n.clusterID {
		return 0, fmt.Errorf("applied index of %s: it belongs to cluster %s, not %s", addr, st.GetClusterId(), n.clusterID)
	}
	return st.GetAppliedIndex(), nil
}
