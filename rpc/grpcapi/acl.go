package grpcapi

import (
	"context"
	"maps"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

// ManagementToken is the name of the token Bootstrap creates.
const ManagementToken = "management"

// AclServer implements AclService: tokens and secrets through Raft. The
// secrets of tokens are made here, shown once in the answer, and only
// their hashes are proposed.
type AclServer struct {
	ferryv1.UnimplementedAclServiceServer
	node Node
}

// NewAclServer returns an AclServer answering from node.
func NewAclServer(node Node) *AclServer { return &AclServer{node: node} }

// callerName is who the Auth interceptor says made the call, for the
// record ("" when the server runs without it, as in unit tests).
func callerName(ctx context.Context) string {
	c, _ := acl.CallerFrom(ctx)
	return c.String()
}

func (s *AclServer) Bootstrap(ctx context.Context, _ *ferryv1.AclBootstrapRequest) (*ferryv1.AclBootstrapResponse, error) {
	secret, h, err := acl.NewToken()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	res, err := propose(ctx, s.node, &ferryv1.Command{Op: &ferryv1.Command_BootstrapAcl{BootstrapAcl: &ferryv1.BootstrapAclOp{
		Token: &ferryv1.AclToken{Name: ManagementToken, Role: acl.Admin.String(), SecretSha256: h[:], CreatedBy: callerName(ctx)},
	}}})
	if err != nil {
		return nil, err
	}
	return &ferryv1.AclBootstrapResponse{Token: res.Token, Secret: secret}, nil
}

func (s *AclServer) WhoAmI(ctx context.Context, _ *ferryv1.WhoAmIRequest) (*ferryv1.WhoAmIResponse, error) {
	c, _ := acl.CallerFrom(ctx)
	return &ferryv1.WhoAmIResponse{Kind: string(c.Kind), Name: c.Name, Role: c.Role.String(), Bootstrapped: s.node.FSM().ACLBootstrapped()}, nil
}

func (s *AclServer) CreateToken(ctx context.Context, req *ferryv1.CreateTokenRequest) (*ferryv1.CreateTokenResponse, error) {
	var bad []fsm.FieldViolation
	if req.GetName() == "" {
		bad = append(bad, fsm.FieldViolation{Field: "name", Description: "required"})
	}
	if _, err := acl.ParseRole(req.GetRole()); err != nil {
		bad = append(bad, fsm.FieldViolation{Field: "role", Description: err.Error()})
	}
	if ttl := req.GetTtl(); ttl != nil && (ttl.CheckValid() != nil || ttl.AsDuration() <= 0) {
		bad = append(bad, fsm.FieldViolation{Field: "ttl", Description: "must be positive (unset: never expires)"})
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	secret, h, err := acl.NewToken()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	res, err := propose(ctx, s.node, &ferryv1.Command{Op: &ferryv1.Command_CreateToken{CreateToken: &ferryv1.CreateTokenOp{
		Token: &ferryv1.AclToken{Name: req.GetName(), Role: req.GetRole(), SecretSha256: h[:], CreatedBy: callerName(ctx)},
		Ttl:   req.GetTtl(),
	}}})
	if err != nil {
		return nil, err
	}
	return &ferryv1.CreateTokenResponse{Token: res.Token, Secret: secret}, nil
}

func (s *AclServer) ListTokens(ctx context.Context, _ *ferryv1.ListTokensRequest) (*ferryv1.ListTokensResponse, error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	return &ferryv1.ListTokensResponse{Tokens: s.node.FSM().Tokens()}, nil
}

func (s *AclServer) RevokeToken(ctx context.Context, req *ferryv1.RevokeTokenRequest) (*ferryv1.RevokeTokenResponse, error) {
	if req.GetName() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "name", Description: "required"})
	}
	res, err := propose(ctx, s.node, &ferryv1.Command{Op: &ferryv1.Command_RevokeToken{RevokeToken: &ferryv1.RevokeTokenOp{Name: req.GetName()}}})
	if err != nil {
		return nil, err
	}
	return &ferryv1.RevokeTokenResponse{Token: res.Token}, nil
}

func (s *AclServer) SetSecret(ctx context.Context, req *ferryv1.SetSecretRequest) (*ferryv1.SetSecretResponse, error) {
	if err := acl.CheckSecret(req.GetName(), req.GetValues()); err != nil {
		return nil, invalid(fsm.FieldViolation{Field: "values", Description: err.Error()})
	}
	res, err := propose(ctx, s.node, &ferryv1.Command{Op: &ferryv1.Command_SetSecret{SetSecret: &ferryv1.SetSecretOp{
		Secret: &ferryv1.Secret{Name: req.GetName(), Values: maps.Clone(req.GetValues()), UpdatedBy: callerName(ctx)},
	}}})
	if err != nil {
		return nil, err
	}
	return &ferryv1.SetSecretResponse{Secret: res.Secret}, nil
}

func (s *AclServer) ListSecrets(ctx context.Context, _ *ferryv1.ListSecretsRequest) (*ferryv1.ListSecretsResponse, error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	return &ferryv1.ListSecretsResponse{Secrets: s.node.FSM().Secrets()}, nil
}
