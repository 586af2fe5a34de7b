package cluster

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/mtls"
	"github.com/ferry-san/ferry/security/pki"
)

// dialCredentials secure a connection to the node named node ("" when its
// name is not known yet: then any node of the cluster will do).
func (n *Node) dialCredentials(node string) credentials.TransportCredentials {
	if n.cfg.TLS == nil {
		return insecure.NewCredentials()
	}
	return n.cfg.TLS.NodeCredentials(node)
}

// nodeServices are the gRPC services only nodes may call: Raft's transport
// and the leader's lease service. A client certificate, however valid,
// reaches only the client API.
var nodeServices = []string{"/" + ferryv1.RaftTransport_ServiceDesc.ServiceName + "/", "/" + ferryv1.LeaseService_ServiceDesc.ServiceName + "/"}

// NodeOnly reports whether a method is of a node-only service: PeerAuth
// decides those, by certificate, and the client API's ACL check leaves
// them alone.
func NodeOnly(method string) bool {
	for _, p := range nodeServices {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// PeerAuth are the server options of a node serving gRPC over mutual TLS
// (cfg.TLS set): node-to-node services admit node certificates only, and a
// lease renewal must come from the node it renews.
func PeerAuth(clusterName string) []grpc.ServerOption {
	check := func(ctx context.Context, method string) (pki.Identity, error) {
		id, ok := mtls.PeerIdentity(ctx, clusterName)
		if !ok {
			return id, status.Error(codes.Unauthenticated, "no verified certificate")
		}
		if NodeOnly(method) && id.Role != pki.RoleNode {
			return id, status.Errorf(codes.PermissionDenied, "%s may not call %s: node certificates only", id, method)
		}
		return id, nil
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		id, err := check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		if r, ok := req.(*ferryv1.RenewLeaseRequest); ok && r.GetNode() != id.Name {
			return nil, status.Errorf(codes.PermissionDenied, "node %q may not renew the lease of node %q", id.Name, r.GetNode())
		}
		return h(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if _, err := check(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return h(srv, ss)
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}

// admitPeer checks, on a TLS node, that a Raft message claiming to come
// from node from comes from that node's certificate.
func (t *Transport) admitPeer(ctx context.Context, from uint64) error {
	if t.n.cfg.TLS == nil {
		return nil
	}
	id, ok := mtls.PeerIdentity(ctx, t.n.cfg.ClusterName)
	if !ok || id.Role != pki.RoleNode {
		return status.Error(codes.PermissionDenied, "Raft messages come from node certificates only")
	}
	if name := t.n.nameOf(from); name != "" && name != id.Name {
		return status.Errorf(codes.PermissionDenied, "node %q sent Raft messages as member %x, which is node %q", id.Name, from, name)
	}
	return nil
}
