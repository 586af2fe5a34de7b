package grpcapi

import (
	"context"
	"log/slog"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Node is what the API needs of a cluster node; *cluster.Node provides it.
type Node interface {
	Name() string
	Propose(ctx context.Context, cmd *ferryv1.Command) (fsm.Result, error)
	LinearizableRead(ctx context.Context) error
	FSM() *fsm.FSM
	WatchJob(id string) (<-chan struct{}, func())
	Members() []*ferryv1.Member
	RaftStatus() *ferryv1.RaftStatusResponse
	RemoveMember(ctx context.Context, name string) error
}

// Server implements JobService and ClusterService.
type Server struct {
	ferryv1.UnimplementedJobServiceServer
	ferryv1.UnimplementedClusterServiceServer
	node Node
	log  *slog.Logger
	// newID makes job ids; replaceable in tests.
	newID func() string
}

// New returns a Server answering from node.
func New(node Node, log *slog.Logger) *Server {
	return &Server{node: node, log: log, newID: newJobID}
}
