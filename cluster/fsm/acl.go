package fsm

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

// ACLs (acl.go): BootstrapAclOp turns them on once with the management
// token; CreateTokenOp and RevokeTokenOp add and delete tokens, which the
// state keeps by name and by the SHA-256 of their secret (never the
// secret: it is shown once, to whoever created the token). SetSecretOp
// sets the credentials the nodes' iSCSI targets and NDMP servers use
// (security/acl.SecretSchemas); those values are in the log and the
// snapshots. security/acl.Authorize decides calls from what ACLToken and
// ACLBootstrapped answer.

var (
	// ErrAlreadyBootstrapped: BootstrapAclOp on a cluster whose ACLs are on.
	ErrAlreadyBootstrapped = errors.New("ACLs are already bootstrapped: the management token was shown once, to whoever bootstrapped them; an admin token can create more (ferry acl token create)")
	// ErrNotBootstrapped: a token op before BootstrapAclOp.
	ErrNotBootstrapped = errors.New("ACLs are not bootstrapped: run ferry acl bootstrap first")
	// ErrLastAdmin: revoking the last admin token that has not expired,
	// which would leave nobody able to manage the cluster.
	ErrLastAdmin = errors.New("the last admin token: create another admin token first")
)

func (v *violations) token(t *ferryv1.AclToken, admin bool) {
	if t == nil {
		v.add("token", "required")
		return
	}
	if msg := checkDeviceName(t.GetName()); msg != "" {
		v.add("token.name", msg)
	}
	r, err := acl.ParseRole(t.GetRole())
	switch {
	case err != nil:
		v.add("token.role", err.Error())
	case admin && r != acl.Admin:
		v.add("token.role", "the management token is an admin's")
	}
	if len(t.GetSecretSha256()) != len(acl.Hash{}) {
		v.add("token.secret_sha256", fmt.Sprintf("%d bytes, want %d", len(t.GetSecretSha256()), len(acl.Hash{})))
	}
}

func (s *state) bootstrapACL(cmd *ferryv1.Command, op *ferryv1.BootstrapAclOp) (*ferryv1.AclToken, error) {
	var v violations
	v.commandTime(cmd)
	v.token(op.GetToken(), true)
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	if s.aclBootstrapped {
		return nil, ErrAlreadyBootstrapped
	}
	t := proto.Clone(op.GetToken()).(*ferryv1.AclToken)
	t.Created, t.Expires = cmd.GetTime(), nil
	s.aclBootstrapped = true
	s.addToken(t)
	return t, nil
}

func (s *state) createToken(cmd *ferryv1.Command, op *ferryv1.CreateTokenOp) (*ferryv1.AclToken, error) {
	var v violations
	v.commandTime(cmd)
	v.token(op.GetToken(), false)
	if ttl := op.GetTtl(); ttl != nil && (ttl.CheckValid() != nil || ttl.AsDuration() <= 0) {
		v.add("ttl", "must be positive")
	}
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	if !s.aclBootstrapped {
		return nil, ErrNotBootstrapped
	}
	name := op.GetToken().GetName()
	if _, dup := s.tokens[name]; dup {
		return nil, fmt.Errorf("token %q: %w (revoke it first to reuse the name)", name, ErrAlreadyExists)
	}
	if _, dup := s.tokenByHash[acl.Hash(op.GetToken().GetSecretSha256())]; dup {
		return nil, fmt.Errorf("token %q: its secret's hash: %w", name, ErrAlreadyExists)
	}
	t := proto.Clone(op.GetToken()).(*ferryv1.AclToken)
	t.Created, t.Expires = cmd.GetTime(), nil
	if ttl := op.GetTtl(); ttl != nil {
		t.Expires = timestamppb.New(cmd.GetTime().AsTime().Add(ttl.AsDuration()))
	}
	s.addToken(t)
	return t, nil
}

func (s *state) revokeToken(cmd *ferryv1.Command, op *ferryv1.RevokeTokenOp) (*ferryv1.AclToken, error) {
	var v violations
	v.commandTime(cmd)
	if op.GetName() == "" {
		v.add("name", "required")
	}
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	t, ok := s.tokens[op.GetName()]
	if !ok {
		return nil, fmt.Errorf("token %q: %w", op.GetName(), ErrNotFound)
	}
	if t.GetRole() == acl.Admin.String() && !s.anotherAdmin(t.GetName(), cmd.GetTime().AsTime()) {
		return nil, fmt.Errorf("token %q: %w", t.GetName(), ErrLastAdmin)
	}
	delete(s.tokens, t.GetName())
	delete(s.tokenByHash, acl.Hash(t.GetSecretSha256()))
	return t, nil
}

// anotherAdmin reports whether an admin token other than name is good at now.
func (s *state) anotherAdmin(name string, now time.Time) bool {
	for n, t := range s.tokens {
		if n != name && t.GetRole() == acl.Admin.String() && !tokenRecord(t).Expired(now) {
			return true
		}
	}
	return false
}

func (s *state) setSecret(cmd *ferryv1.Command, op *ferryv1.SetSecretOp) (*ferryv1.Secret, error) {
	var v violations
	v.commandTime(cmd)
	sec := op.GetSecret()
	if err := acl.CheckSecret(sec.GetName(), sec.GetValues()); err != nil {
		v.add("secret", err.Error())
	}
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	sec = proto.Clone(sec).(*ferryv1.Secret)
	sec.Updated = cmd.GetTime()
	s.secrets[sec.GetName()] = sec
	return sec, nil
}

func (s *state) addToken(t *ferryv1.AclToken) {
	s.tokens[t.GetName()] = t
	s.tokenByHash[acl.Hash(t.GetSecretSha256())] = t.GetName()
}

func tokenRecord(t *ferryv1.AclToken) acl.TokenRecord {
	r, _ := acl.ParseRole(t.GetRole()) // checked when applied or restored
	rec := acl.TokenRecord{Name: t.GetName(), Role: r}
	if t.GetExpires() != nil {
		rec.Expires = t.GetExpires().AsTime()
	}
	return rec
}

// ACLBootstrapped reports whether ACLs are on (acl.Tokens).
func (f *FSM) ACLBootstrapped() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.aclBootstrapped
}

// ACLToken finds a token by its secret's hash (acl.Tokens).
func (f *FSM) ACLToken(h acl.Hash) (acl.TokenRecord, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	name, ok := f.st.tokenByHash[h]
	if !ok {
		return acl.TokenRecord{}, false
	}
	return tokenRecord(f.st.tokens[name]), true
}

// Tokens lists the tokens by name, without their hashes.
func (f *FSM) Tokens() []*ferryv1.AclToken {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*ferryv1.AclToken, 0, len(f.st.tokens))
	for _, name := range slices.Sorted(maps.Keys(f.st.tokens)) {
		out = append(out, publicToken(f.st.tokens[name]))
	}
	return out
}

// publicToken is a copy of t without its hash.
func publicToken(t *ferryv1.AclToken) *ferryv1.AclToken {
	c := proto.Clone(t).(*ferryv1.AclToken)
	c.SecretSha256 = nil
	return c
}

// Secret returns a copy of the secret of the name, with its values.
func (f *FSM) Secret(name string) (*ferryv1.Secret, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s, ok := f.st.secrets[name]
	if !ok {
		return nil, false
	}
	return proto.Clone(s).(*ferryv1.Secret), true
}

// Secrets lists the secrets by name, without their values.
func (f *FSM) Secrets() []*ferryv1.SecretInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*ferryv1.SecretInfo, 0, len(f.st.secrets))
	for _, name := range slices.Sorted(maps.Keys(f.st.secrets)) {
		out = append(out, SecretInfo(f.st.secrets[name]))
	}
	return out
}

// SecretInfo is s without its values.
func SecretInfo(s *ferryv1.Secret) *ferryv1.SecretInfo {
	return &ferryv1.SecretInfo{Name: s.GetName(), Keys: slices.Sorted(maps.Keys(s.GetValues())), Updated: s.GetUpdated(), UpdatedBy: s.GetUpdatedBy()}
}

// snapshotACL adds the ACL state to a snapshot, sorted by name.
func (s *state) snapshotACL(snap *ferryv1.StateSnapshot) {
	snap.AclBootstrapped = s.aclBootstrapped
	for _, name := range slices.Sorted(maps.Keys(s.tokens)) {
		snap.AclTokens = append(snap.AclTokens, s.tokens[name])
	}
	for _, name := range slices.Sorted(maps.Keys(s.secrets)) {
		snap.Secrets = append(snap.Secrets, s.secrets[name])
	}
}

// restoreACL rebuilds the ACL state, refusing tokens or secrets the ops
// would have refused, and duplicates.
func (s *state) restoreACL(snap *ferryv1.StateSnapshot) error {
	s.aclBootstrapped = snap.GetAclBootstrapped()
	if len(snap.GetAclTokens()) > 0 && !s.aclBootstrapped {
		return fmt.Errorf("%w: tokens but ACLs not bootstrapped", ErrBadSnapshot)
	}
	for i, t := range snap.GetAclTokens() {
		var v violations
		v.token(t, false)
		if len(v) > 0 {
			return fmt.Errorf("%w: token %d: %w", ErrBadSnapshot, i, &ValidationError{Violations: v})
		}
		if _, dup := s.tokens[t.GetName()]; dup {
			return fmt.Errorf("%w: token %q appears twice", ErrBadSnapshot, t.GetName())
		}
		if _, dup := s.tokenByHash[acl.Hash(t.GetSecretSha256())]; dup {
			return fmt.Errorf("%w: token %q has another token's hash", ErrBadSnapshot, t.GetName())
		}
		s.addToken(t)
	}
	for _, sec := range snap.GetSecrets() {
		if err := acl.CheckSecret(sec.GetName(), sec.GetValues()); err != nil {
			return fmt.Errorf("%w: %w", ErrBadSnapshot, err)
		}
		if _, dup := s.secrets[sec.GetName()]; dup {
			return fmt.Errorf("%w: secret %q appears twice", ErrBadSnapshot, sec.GetName())
		}
		s.secrets[sec.GetName()] = sec
	}
	return nil
}
