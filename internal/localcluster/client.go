package localcluster

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Conn returns a gRPC connection to the node's API, shared by all callers
// and kept across restarts (the address does not change). Close closes it.
func (c *Cluster) Conn(name string) (*grpc.ClientConn, error) {
	n, err := c.Node(name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn, ok := c.conns[name]; ok {
		return conn, nil
	}
	creds, err := c.clientCredentials()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(n.GRPCAddr(), grpc.WithTransportCredentials(creds), grpc.WithPerRPCCredentials(harnessToken{c}),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return n.DialContext(ctx, "tcp", addr) }))
	if err != nil {
		return nil, fmt.Errorf("localcluster: dial %s: %w", name, err)
	}
	c.conns[name] = conn
	return conn, nil
}

// Client is the node's JobService and ClusterService over its shared
// connection.
type Client struct {
	Jobs    ferryv1.JobServiceClient
	Cluster ferryv1.ClusterServiceClient
}

// Client returns typed clients for the node's API.
func (c *Cluster) Client(name string) (Client, error) {
	conn, err := c.Conn(name)
	if err != nil {
		return Client{}, err
	}
	return Client{Jobs: ferryv1.NewJobServiceClient(conn), Cluster: ferryv1.NewClusterServiceClient(conn)}, nil
}
