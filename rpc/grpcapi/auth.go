package grpcapi

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/ferry-san/ferry/security/acl"
	"github.com/ferry-san/ferry/security/mtls"
	"github.com/ferry-san/ferry/security/pki"
)

// AuthConfig configures Auth.
type AuthConfig struct {
	// Tokens is the replicated state the tokens are looked up in
	// (*fsm.FSM). Required.
	Tokens acl.Tokens
	// Cluster is the cluster's name, which certificates carry; TLS says
	// whether the server verifies them (false: plaintext, -insecure or
	// -dev).
	Cluster string
	TLS     bool
	// Skip reports methods Auth leaves alone: the node-to-node services,
	// which cluster.PeerAuth admits by node certificate. Default: none.
	Skip func(fullMethod string) bool
	// Now is the clock tokens expire by. Default: time.Now.
	Now func() time.Time
	// Logger records refusals. Default: slog.Default().
	Logger *slog.Logger
	// Audit is told of every mutating call (acl.Mutating) once it is
	// answered, refused or not (an *Auditor). Default: none.
	Audit interface{ Record(AuditedCall) }
}

// Auth resolves the caller of every call of the client API, checks it
// (security/acl.Authorize) and passes it down the call's context
// (acl.WithCaller), where handlers read it: it must come before every
// interceptor that reads the caller. Once a mutating call is answered, Auth
// hands it to the audit trail (AuthConfig.Audit) with its caller and
// outcome: the one place that knows both, refusals included. Every node checks
// the calls it serves; none forwards a client's call to another node
// (writes reach the leader inside Raft), so a token never needs to travel
// further and a node's certificate never stands in for it.
type Auth struct{ cfg AuthConfig }

// NewAuth returns the interceptors of cfg.
func NewAuth(cfg AuthConfig) *Auth {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Skip == nil {
		cfg.Skip = func(string) bool { return false }
	}
	return &Auth{cfg: cfg}
}

// ServerOptions are the interceptors as server options.
func (a *Auth) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream)}
}

// authorize resolves the call's caller, and refuses it or not.
func (a *Auth) authorize(ctx context.Context, method string) (acl.Caller, error) {
	req := acl.Request{Method: method, Plaintext: !a.cfg.TLS}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		req.Addr = p.Addr.String()
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		req.Header = md.Get(acl.AuthorizationHeader)
	}
	if a.cfg.TLS {
		if id, ok := mtls.PeerIdentity(ctx, a.cfg.Cluster); ok {
			req.Cert, req.Node = id.String(), id.Role == pki.RoleNode
		}
	}
	caller, err := acl.Authorize(a.cfg.Tokens, req, a.cfg.Now())
	if err != nil {
		a.cfg.Logger.Info("call refused", "method", method, "addr", req.Addr, "certificate", req.Cert, "err", err)
	}
	return caller, err
}

// audit hands a mutating call to the audit trail.
func (a *Auth) audit(method string, caller acl.Caller, req any, start time.Time, err error) {
	if a.cfg.Audit != nil && acl.Mutating(method) {
		a.cfg.Audit.Record(AuditedCall{Method: method, Caller: caller, Request: req, Start: start, Err: err})
	}
}

func (a *Auth) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if a.cfg.Skip(info.FullMethod) {
		return h(ctx, req)
	}
	start := a.cfg.Now()
	caller, err := a.authorize(ctx, info.FullMethod)
	var resp any
	if err == nil {
		resp, err = h(acl.WithCaller(ctx, caller), req)
	}
	a.audit(info.FullMethod, caller, req, start, err)
	return resp, err
}

func (a *Auth) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if a.cfg.Skip(info.FullMethod) {
		return h(srv, ss)
	}
	start := a.cfg.Now()
	caller, err := a.authorize(ss.Context(), info.FullMethod)
	if err == nil {
		err = h(srv, callerStream{ss, acl.WithCaller(ss.Context(), caller)})
	}
	a.audit(info.FullMethod, caller, nil, start, err)
	return err
}

// callerStream is a server stream whose context carries the caller.
type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s callerStream) Context() context.Context { return s.ctx }
