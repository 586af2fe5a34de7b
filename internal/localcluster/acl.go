package localcluster

import (
	"context"
	"fmt"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

// ACLToken is the management token of a cluster started with Config.ACL
// (the harness bootstraps ACLs in the first WaitReady); "" before that.
func (c *Cluster) ACLToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.aclToken
}

// SetACLToken gives the harness the management token of ACLs bootstrapped
// from outside it (the demo runs ferry acl bootstrap as a person would):
// its calls, and the CLI that ClientEnv configures, send it from then on.
func (c *Cluster) SetACLToken(secret string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.aclToken = secret
}

// bootstrapACL turns ACLs on through node name, once.
func (c *Cluster) bootstrapACL(ctx context.Context, name string) error {
	if c.ACLToken() != "" {
		return nil
	}
	conn, err := c.Conn(name)
	if err != nil {
		return err
	}
	resp, err := ferryv1.NewAclServiceClient(conn).Bootstrap(ctx, &ferryv1.AclBootstrapRequest{})
	if err != nil {
		return fmt.Errorf("localcluster: ACL bootstrap through %s: %w", name, err)
	}
	c.mu.Lock()
	c.aclToken = resp.GetSecret()
	c.mu.Unlock()
	c.cfg.Logger.Info("ACLs bootstrapped", "node", name)
	return nil
}

// harnessToken sends the management token, once there is one, on the
// harness's own connections.
type harnessToken struct{ c *Cluster }

func (h harnessToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if tok := h.c.ACLToken(); tok != "" {
		return map[string]string{acl.AuthorizationHeader: acl.BearerValue(tok)}, nil
	}
	return nil, nil
}

func (harnessToken) RequireTransportSecurity() bool { return false }
