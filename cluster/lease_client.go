package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// leaseClient keeps one connection per address it renews leases through.
type leaseClient struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// RenewLease renews this node's lease with the leader, reporting the jobs
// it runs, and returns the leader's answer.
func (n *Node) RenewLease(ctx context.Context, jobs []*ferryv1.JobLease) (*ferryv1.RenewLeaseResponse, error) {
	lease, err := n.leaderLeases()
	if err != nil {
		return nil, err
	}
	return lease.Renew(ctx, &ferryv1.RenewLeaseRequest{
		ClusterId: n.clusterID, Node: n.cfg.NodeName, Jobs: jobs,
	})
}

// LiveProgress asks the leader what the owners of jobIDs last reported in
// their lease renewals (every job it knows of when jobIDs is empty).
func (n *Node) LiveProgress(ctx context.Context, jobIDs []string) ([]*ferryv1.JobLiveProgress, error) {
	lease, err := n.leaderLeases()
	if err != nil {
		return nil, err
	}
	resp, err := lease.Progress(ctx, &ferryv1.ProgressRequest{ClusterId: n.clusterID, JobIds: jobIDs})
	if err != nil {
		return nil, err
	}
	return resp.GetJobs(), nil
}

// leaderLeases is the LeaseService of the current leader.
func (n *Node) leaderLeases() (ferryv1.LeaseServiceClient, error) {
	lead := n.Leader()
	if lead == 0 {
		return nil, ErrNoLeader
	}
	info, ok := n.fsm.Node(lead)
	if !ok || info.GetGrpcAddr() == "" {
		return nil, fmt.Errorf("%w: leader %x has no known address", ErrNoLeader, lead)
	}
	conn, err := n.leases.conn(n, info.GetGrpcAddr(), info.GetName())
	if err != nil {
		return nil, err
	}
	return ferryv1.NewLeaseServiceClient(conn), nil
}

// conn is a connection to the node named node ("" if unknown) at addr,
// kept for reuse: one per address and expected name, since on a TLS
// cluster the name is what the connection verifies.
func (c *leaseClient) conn(n *Node, addr, node string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := addr + "\x00" + node
	if conn, ok := c.conns[key]; ok {
		return conn, nil
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(n.dialCredentials(node)), peerConnectParams)
	if err != nil {
		return nil, fmt.Errorf("lease connection to %s: %w", addr, err)
	}
	if c.conns == nil {
		c.conns = map[string]*grpc.ClientConn{}
	}
	c.conns[key] = conn
	return conn, nil
}

func (c *leaseClient) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, conn := range c.conns {
		errs = append(errs, conn.Close())
	}
	c.conns = nil
	return errors.Join(errs...)
}
