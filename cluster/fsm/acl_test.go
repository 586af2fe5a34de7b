package fsm

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

func aclCmd(step int, op any) *ferryv1.Command {
	c := &ferryv1.Command{RequestId: "acl", Time: stamp(step), Node: "node-a"}
	switch op := op.(type) {
	case *ferryv1.BootstrapAclOp:
		c.Op = &ferryv1.Command_BootstrapAcl{BootstrapAcl: op}
	case *ferryv1.CreateTokenOp:
		c.Op = &ferryv1.Command_CreateToken{CreateToken: op}
	case *ferryv1.RevokeTokenOp:
		c.Op = &ferryv1.Command_RevokeToken{RevokeToken: op}
	case *ferryv1.SetSecretOp:
		c.Op = &ferryv1.Command_SetSecret{SetSecret: op}
	}
	return c
}

func newHash(t *testing.T) acl.Hash {
	t.Helper()
	_, h, err := acl.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func aclToken(name, role string, h acl.Hash) *ferryv1.AclToken {
	return &ferryv1.AclToken{Name: name, Role: role, SecretSha256: h[:], CreatedBy: "certificate:cli"}
}

func apply(f *FSM, c *ferryv1.Command) Result { return f.Apply(f.AppliedIndex()+1, c) }

func TestACLTokens(t *testing.T) {
	f := New()
	rootH, appH, readH := newHash(t), newHash(t), newHash(t)
	if r := apply(f, aclCmd(1, &ferryv1.CreateTokenOp{Token: aclToken("app", "operator", appH)})); !errors.Is(r.Err, ErrNotBootstrapped) {
		t.Fatalf("create before bootstrap: %v", r.Err)
	}
	if r := apply(f, aclCmd(1, &ferryv1.BootstrapAclOp{Token: aclToken("root", "operator", rootH)})); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("bootstrap with an operator token: %v", r.Err)
	}
	if f.ACLBootstrapped() {
		t.Fatal("bootstrapped by a refused op")
	}
	r := apply(f, aclCmd(2, &ferryv1.BootstrapAclOp{Token: aclToken("root", "admin", rootH)}))
	if r.Err != nil || r.Token.GetName() != "root" || r.Token.GetSecretSha256() != nil || !r.Token.GetCreated().AsTime().Equal(stamp(2).AsTime()) {
		t.Fatalf("bootstrap: %+v", r)
	}
	if r := apply(f, aclCmd(3, &ferryv1.BootstrapAclOp{Token: aclToken("root2", "admin", newHash(t))})); !errors.Is(r.Err, ErrAlreadyBootstrapped) {
		t.Fatalf("second bootstrap: %v", r.Err)
	}
	r = apply(f, aclCmd(4, &ferryv1.CreateTokenOp{Token: aclToken("app", "operator", appH), Ttl: durationpb.New(time.Hour)}))
	if r.Err != nil || !r.Token.GetExpires().AsTime().Equal(stamp(4).AsTime().Add(time.Hour)) {
		t.Fatalf("create: %+v", r)
	}
	for _, tc := range []struct {
		op   *ferryv1.CreateTokenOp
		want error
	}{
		{&ferryv1.CreateTokenOp{Token: aclToken("app", "read", readH)}, ErrAlreadyExists},
		{&ferryv1.CreateTokenOp{Token: aclToken("other", "read", appH)}, ErrAlreadyExists},
		{&ferryv1.CreateTokenOp{Token: aclToken("bad name", "read", readH)}, ErrInvalid},
		{&ferryv1.CreateTokenOp{Token: aclToken("x", "root", readH)}, ErrInvalid},
		{&ferryv1.CreateTokenOp{Token: &ferryv1.AclToken{Name: "x", Role: "read", SecretSha256: []byte("short")}}, ErrInvalid},
		{&ferryv1.CreateTokenOp{Token: aclToken("x", "read", readH), Ttl: durationpb.New(-time.Second)}, ErrInvalid},
		{&ferryv1.CreateTokenOp{}, ErrInvalid},
	} {
		if r := apply(f, aclCmd(5, tc.op)); !errors.Is(r.Err, tc.want) {
			t.Errorf("create %v: %v, want %v", tc.op, r.Err, tc.want)
		}
	}
	if tok, ok := f.ACLToken(appH); !ok || tok.Role != acl.Operator || !tok.Expires.Equal(stamp(4).AsTime().Add(time.Hour)) {
		t.Fatalf("ACLToken(app) = %+v, %v", tok, ok)
	}
	if r := apply(f, aclCmd(6, &ferryv1.RevokeTokenOp{Name: "root"})); !errors.Is(r.Err, ErrLastAdmin) {
		t.Fatalf("revoking the last admin: %v", r.Err)
	}
	if r := apply(f, aclCmd(6, &ferryv1.RevokeTokenOp{Name: "app"})); r.Err != nil || r.Token.GetName() != "app" {
		t.Fatalf("revoke: %+v", r)
	}
	if _, ok := f.ACLToken(appH); ok {
		t.Fatal("a revoked token is still found")
	}
	if r := apply(f, aclCmd(7, &ferryv1.RevokeTokenOp{Name: "app"})); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("revoke twice: %v", r.Err)
	}
	toks := f.Tokens()
	if len(toks) != 1 || toks[0].GetName() != "root" || toks[0].GetSecretSha256() != nil {
		t.Fatalf("Tokens() = %v", toks)
	}
}

func TestSecrets(t *testing.T) {
	f := New()
	chap := map[string]string{"user": "iqn.initiator", "secret": "0123456789ab"}
	r := apply(f, aclCmd(1, &ferryv1.SetSecretOp{Secret: &ferryv1.Secret{Name: acl.SecretISCSICHAP, Values: chap, UpdatedBy: "token:root"}}))
	if r.Err != nil || r.Secret.GetName() != acl.SecretISCSICHAP || len(r.Secret.GetKeys()) != 2 {
		t.Fatalf("set: %+v", r)
	}
	if r := apply(f, aclCmd(2, &ferryv1.SetSecretOp{Secret: &ferryv1.Secret{Name: acl.SecretISCSICHAP, Values: map[string]string{"user": "u"}}})); !errors.Is(r.Err, ErrInvalid) {
		t.Fatalf("set without a secret: %v", r.Err)
	}
	rotated := map[string]string{"user": "iqn.initiator", "secret": "ba9876543210"}
	applyAll(t, f, aclCmd(3, &ferryv1.SetSecretOp{Secret: &ferryv1.Secret{Name: acl.SecretISCSICHAP, Values: rotated}}))
	got, ok := f.Secret(acl.SecretISCSICHAP)
	if !ok || got.GetValues()["secret"] != "ba9876543210" || !got.GetUpdated().AsTime().Equal(stamp(3).AsTime()) {
		t.Fatalf("after rotation: %v", got)
	}
	got.Values["secret"] = "changed by a reader"
	if again, _ := f.Secret(acl.SecretISCSICHAP); again.GetValues()["secret"] != "ba9876543210" {
		t.Fatal("Secret aliases the state")
	}
	if l := f.Secrets(); len(l) != 1 || l[0].GetName() != acl.SecretISCSICHAP {
		t.Fatalf("Secrets() = %v", l)
	}
}

func TestACLSnapshotRoundTrip(t *testing.T) {
	f := New()
	rootH, appH := newHash(t), newHash(t)
	applyAll(t, f,
		aclCmd(1, &ferryv1.BootstrapAclOp{Token: aclToken("root", "admin", rootH)}),
		aclCmd(2, &ferryv1.CreateTokenOp{Token: aclToken("app", "operator", appH), Ttl: durationpb.New(time.Hour)}),
		aclCmd(3, &ferryv1.SetSecretOp{Secret: &ferryv1.Secret{Name: acl.SecretNDMP, Values: map[string]string{"user": "ndmp", "password": "pw"}}}),
	)
	data, _, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	g := restored(t, f)
	again, _, _ := g.Snapshot()
	if !bytes.Equal(data, again) {
		t.Fatal("a restored state snapshots differently")
	}
	if !g.ACLBootstrapped() {
		t.Fatal("restored state is not bootstrapped")
	}
	if tok, ok := g.ACLToken(appH); !ok || tok.Name != "app" || tok.Expires.IsZero() {
		t.Fatalf("restored app token: %+v %v", tok, ok)
	}
	if s, ok := g.Secret(acl.SecretNDMP); !ok || s.GetValues()["password"] != "pw" {
		t.Fatalf("restored secret: %v", s)
	}
	for name, snap := range map[string]*ferryv1.StateSnapshot{
		"tokens without bootstrap": {AclTokens: []*ferryv1.AclToken{aclToken("a", "read", appH)}},
		"duplicate name":           {AclBootstrapped: true, AclTokens: []*ferryv1.AclToken{aclToken("a", "read", appH), aclToken("a", "read", rootH)}},
		"duplicate hash":           {AclBootstrapped: true, AclTokens: []*ferryv1.AclToken{aclToken("a", "read", appH), aclToken("b", "read", appH)}},
		"bad role":                 {AclBootstrapped: true, AclTokens: []*ferryv1.AclToken{aclToken("a", "god", appH)}},
		"bad secret":               {Secrets: []*ferryv1.Secret{{Name: "ssh"}}},
	} {
		if _, err := stateFromSnapshot(snap); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
