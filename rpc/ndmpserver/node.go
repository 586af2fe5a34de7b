package ndmpserver

// STUB by the lead so that the agent builds: the cluster engineer replaces
// this whole file with the Cluster implemented over *cluster.Node.

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/executor"
	"github.com/ferry-san/ferry/storage/library"
)

// NewNodeCluster is the Cluster of a running node.
func NewNodeCluster(node *cluster.Node, exec *executor.Executor, log *slog.Logger) Cluster {
	return &nodeCluster{node: node}
}

type nodeCluster struct{ node *cluster.Node }

func (c *nodeCluster) NodeName() string { return c.node.Name() }

func (c *nodeCluster) Libraries(ctx context.Context) ([]LibraryView, error) { return nil, nil }

func (c *nodeCluster) Move(ctx context.Context, lib string, from, to library.Location, dma string) error {
	return fmt.Errorf("%w: not yet", ErrNoDevice)
}

func (c *nodeCluster) OpenDrive(ctx context.Context, req DriveRequest) (Drive, error) {
	return nil, fmt.Errorf("%w: not yet", ErrNoDevice)
}
