package acl

import "context"

// Kind says how a caller was identified.
type Kind string

const (
	// Token: by an ACL token; Caller.Name is the token's name.
	Token Kind = "token"
	// Certificate: by its client or node certificate alone (no token
	// needed: ACLs not bootstrapped); Caller.Name is the certificate's
	// identity.
	Certificate Kind = "certificate"
	// Anonymous: neither (a plaintext cluster without ACLs).
	Anonymous Kind = "anonymous"
)

// Caller is who made a call, as the server resolved it.
type Caller struct {
	Kind Kind
	// Name is the token's name, or the certificate's identity (for
	// example spiffe://prod/client/backup-app); "" for Anonymous.
	Name string
	// Role is what the caller may do.
	Role Role
	// Addr is the address the call came from.
	Addr string
}

// String names the caller for logs and the audit trail.
func (c Caller) String() string {
	if c.Name == "" {
		return string(c.Kind)
	}
	return string(c.Kind) + ":" + c.Name
}

type callerKey struct{}

// WithCaller returns ctx carrying the call's caller.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller WithCaller put in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
