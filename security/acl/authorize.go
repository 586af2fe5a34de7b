package acl

import (
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TokenRecord is what the replicated state knows of a token, found by its hash.
type TokenRecord struct {
	Name string
	Role Role
	// Expires is when calls with it stop; zero: never.
	Expires time.Time
}

// Expired reports whether the token is no longer good at now.
func (t TokenRecord) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// Tokens is what Authorize needs of the replicated state.
type Tokens interface {
	// ACLBootstrapped reports whether ACLs are on: tokens required.
	ACLBootstrapped() bool
	// ACLToken finds a live (not revoked) token by its hash.
	ACLToken(Hash) (TokenRecord, bool)
}

// Request is what a server knows of a call before it runs it.
type Request struct {
	// Method is the full gRPC method name.
	Method string
	// Header holds the call's AuthorizationHeader metadata values.
	Header []string
	// Cert is the identity of the caller's verified certificate (its
	// spiffe URL); "" on a plaintext server.
	Cert string
	// Node reports that Cert is a node's certificate.
	Node bool
	// Plaintext reports that the server runs without TLS (-insecure,
	// -dev): nobody can prove who they are.
	Plaintext bool
	// Addr is the address the call came from.
	Addr string
}

// BootstrapMethod is the one method anyone who reached the API may call
// without a token: there is none before it, and the service refuses it
// after.
const BootstrapMethod = "/ferry.v1.AclService/Bootstrap"

// tokenHint ends every refusal for want of a good token.
const tokenHint = "pass -token or FERRY_TOKEN"

// Authorize decides one call: the caller as the server resolved it, or
// the refusal as a gRPC status error — UNAUTHENTICATED for a missing,
// malformed, unknown, revoked or expired token, PERMISSION_DENIED for a
// token whose role is below the method's (MethodRole) or a method the
// table does not know. A refused caller is returned too, as far as it is
// known, with role None, for the audit trail: the token's name when the
// token was found (expired, or its role too low), else the certificate's
// identity, else anonymous.
//
// Before ACLs are bootstrapped every caller that reached the API (past
// mutual TLS, if the server has it) is an admin. After, every call needs
// a token, except Bootstrap (refused by the service itself) and the
// node-to-node calls of the client API (nodeCalls), which a node makes
// with its certificate alone — and on a plaintext server, where any
// process could claim to be a node, with nothing.
func Authorize(st Tokens, req Request, now time.Time) (Caller, error) {
	who := Caller{Kind: Anonymous, Addr: req.Addr}
	if req.Cert != "" {
		who.Kind, who.Name = Certificate, req.Cert
	}
	need, known := MethodRole(req.Method)
	if !known {
		return who, status.Errorf(codes.PermissionDenied, "%s is not a method of the client API: refused", req.Method)
	}
	if !st.ACLBootstrapped() {
		who.Role = Admin
		return who, nil
	}
	secret, err := TokenFromHeader(req.Header)
	if err != nil {
		return who, status.Errorf(codes.Unauthenticated, "%v; %s", err, tokenHint)
	}
	if secret == "" {
		switch {
		case req.Method == BootstrapMethod:
			return who, nil
		case nodeCalls[req.Method] && (req.Node || req.Plaintext):
			who.Role = Read
			return who, nil
		}
		return who, status.Errorf(codes.Unauthenticated, "no ACL token: this cluster's ACLs are bootstrapped and %s needs a token of role %s or higher; %s", req.Method, need, tokenHint)
	}
	h, err := ParseToken(secret)
	if err != nil {
		return who, status.Errorf(codes.Unauthenticated, "%v; %s", err, tokenHint)
	}
	tok, ok := st.ACLToken(h)
	if !ok {
		return who, status.Errorf(codes.Unauthenticated, "unknown or revoked ACL token; %s with a valid one", tokenHint)
	}
	caller := Caller{Kind: Token, Name: tok.Name, Addr: req.Addr}
	if tok.Expired(now) {
		return caller, status.Errorf(codes.Unauthenticated, "ACL token %q expired at %s; %s with a valid one", tok.Name, tok.Expires.UTC().Format(time.RFC3339), tokenHint)
	}
	if req.Method != BootstrapMethod && !tok.Role.Allows(need) {
		return caller, status.Errorf(codes.PermissionDenied, "ACL token %q has role %s; %s needs role %s", tok.Name, tok.Role, req.Method, need)
	}
	caller.Role = tok.Role
	return caller, nil
}
