package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// pollInterval is how often the harness re-checks a condition. Short, since
// leader elections are timed with it.
const pollInterval = 20 * time.Millisecond

// probeTimeout bounds one HTTP or gRPC probe so that a hung node cannot
// stall a poll loop past its context.
const probeTimeout = time.Second

// ErrExited is returned when a node being waited for has exited.
var ErrExited = errors.New("localcluster: node exited")

// poll calls check until it reports done, returns an error, or ctx ends; the
// last "not yet" reason is kept for the timeout error.
func poll(ctx context.Context, what string, check func(ctx context.Context) (done bool, why string, err error)) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	last := "not checked yet"
	for {
		done, why, err := check(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		// A probe cut short by ctx's end says nothing about the node; keep
		// the reason the one before it gave.
		if ctx.Err() == nil {
			last = why
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("localcluster: waiting for %s: %w (last: %s)", what, ctx.Err(), last)
		case <-ticker.C:
		}
	}
}

// WaitReady waits until /readyz answers 200 on every named node, or on every
// running node when no name is given. A node that exits meanwhile ends the
// wait with ErrExited.
func (c *Cluster) WaitReady(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		names = c.Running()
	}
	nodes := make([]*Node, 0, len(names))
	for _, name := range names {
		n, err := c.Node(name)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	err := poll(ctx, fmt.Sprintf("%v ready", names), func(ctx context.Context) (bool, string, error) {
		for _, n := range nodes {
			if !n.Running() {
				return false, "", fmt.Errorf("%s: %w: %v", n.Name, ErrExited, n.ExitErr())
			}
			ok, why := ready(ctx, n)
			if !ok {
				return false, why, nil
			}
		}
		return true, "", nil
	})
	if err != nil || !c.cfg.ACL || len(nodes) == 0 {
		return err
	}
	return c.bootstrapACL(ctx, nodes[0].Name)
}

func ready(ctx context.Context, n *Node) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTPAddr()+"/readyz", nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := n.HTTPClient().Do(req)
	if err != nil {
		return false, fmt.Sprintf("%s: %v", n.Name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Sprintf("%s: /readyz %s", n.Name, resp.Status)
	}
	return true, ""
}

// RaftStatus asks one node for its view of Raft.
func (c *Cluster) RaftStatus(ctx context.Context, name string) (*ferryv1.RaftStatusResponse, error) {
	cl, err := c.Client(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	st, err := cl.Cluster.RaftStatus(ctx, &ferryv1.RaftStatusRequest{})
	if err != nil {
		return nil, fmt.Errorf("localcluster: raft status of %s: %w", name, err)
	}
	return st, nil
}

// Leader waits until a running node reports itself leader and returns its
// name. Dead nodes are ignored, so after killing a leader Leader returns
// its successor.
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	var leader string
	err := poll(ctx, "a leader", func(ctx context.Context) (bool, string, error) {
		why := "no running node"
		for _, name := range c.Running() {
			st, err := c.RaftStatus(ctx, name)
			if err != nil {
				why = err.Error()
				continue
			}
			if st.GetRole() == ferryv1.RaftRole_RAFT_ROLE_LEADER {
				leader = name
				return true, "", nil
			}
			why = fmt.Sprintf("%s is %s, sees leader %q", name, st.GetRole(), st.GetLeader())
		}
		return false, why, nil
	})
	return leader, err
}

// WaitVoters waits until the leader's configuration has exactly the given
// voters (in any order) and returns its status.
func (c *Cluster) WaitVoters(ctx context.Context, voters ...string) (*ferryv1.RaftStatusResponse, error) {
	want := slices.Sorted(slices.Values(voters))
	var status *ferryv1.RaftStatusResponse
	err := poll(ctx, fmt.Sprintf("voters %v", want), func(ctx context.Context) (bool, string, error) {
		leader, err := c.Leader(ctx)
		if err != nil {
			return false, "", err
		}
		st, err := c.RaftStatus(ctx, leader)
		if err != nil {
			return false, err.Error(), nil
		}
		got := slices.Sorted(slices.Values(st.GetVoters()))
		if !slices.Equal(got, want) {
			return false, fmt.Sprintf("%s reports voters %v, learners %v", leader, got, st.GetLearners()), nil
		}
		status = st
		return true, "", nil
	})
	return status, err
}
