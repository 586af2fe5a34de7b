package test

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/mtls"
	"github.com/ferry-san/ferry/security/pki"
)

// TestMutualTLS: a 3-node cluster serving mutual TLS (Raft, leases and the
// client API) elects and replicates; the CLI works with a client
// certificate of the cluster's CA and is refused, with a clear message and
// no state change, without one, with one of another CA, or with an expired
// one; a disk outside -device-dirs, or the node's own Raft log, is
// refused; a node presenting another node's certificate does not start; a
// node with another gossip key, or none, cannot join, and its log says why.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	c, err := localcluster.New(localcluster.Config{Binary: ferryBinary, Dir: dir, ExtraArgs: []string{"-run-jobs=false", "-device-dirs", dir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log("\n" + c.Tails(logTail))
		}
		c.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := c.Start(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"n2", "n3"} {
		if _, err := c.Start(ctx, n, "n1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	// Three voters: Raft's messages went over mutual TLS between all.
	if _, err := c.WaitVoters(ctx, "n1", "n2", "n3"); err != nil {
		t.Fatal(err)
	}
	n1, _ := c.Node("n1")
	run := cli{t: t, addr: n1.GRPCAddr()}
	ops, err := c.TLSFiles(pki.RoleClient, "ops")
	if err != nil {
		t.Fatal(err)
	}
	with := func(f mtls.Files, args ...string) []string {
		return append(args, "-ca", f.CA, "-cert", f.Cert, "-key", f.Key)
	}
	out := run.ok(with(ops, "members")...)
	for _, n := range []string{"n1", "n2", "n3"} {
		if !regexp.MustCompile(`(?m)^` + n + ` .* mTLS `).MatchString(out.stdout) {
			t.Fatalf("members does not list %s serving mTLS:\n%s", n, out)
		}
	}
	if strings.Contains(out.stdout, "PLAINTEXT") {
		t.Errorf("members says PLAINTEXT on a secure cluster:\n%s", out)
	}
	run.ok(with(ops, "library", "create", "--name", "lib1", "--dir", filepath.Join(dir, "lib1"), "--slots", "2", "--drives", "1", "--capacity", "64MiB")...)

	// Refused: each leaves the registry as it was.
	rogue := filepath.Join(dir, "rogue")
	os.Mkdir(rogue, 0o700)
	certPEM, keyPEM, _ := pki.NewCA("ferry", pki.Config{})
	rca, _ := pki.LoadCA(certPEM, keyPEM)
	writeTLS := func(name string, certPEM, keyPEM []byte) mtls.Files {
		f := mtls.Files{CA: ops.CA, Cert: filepath.Join(rogue, name+".pem"), Key: filepath.Join(rogue, name+"-key.pem")}
		if err := errors.Join(os.WriteFile(f.Cert, certPEM, 0o600), os.WriteFile(f.Key, keyPEM, 0o600)); err != nil {
			t.Fatal(err)
		}
		return f
	}
	fc, fk, err := rca.IssueClient("ops", pki.Config{})
	if err != nil {
		t.Fatal(err)
	}
	foreign := writeTLS("foreign", fc, fk)
	ca, err := c.CA()
	if err != nil {
		t.Fatal(err)
	}
	ec, ek, err := ca.IssueClient("old", pki.Config{Days: 1, Now: time.Now().AddDate(0, 0, -2)})
	if err != nil {
		t.Fatal(err)
	}
	expired := writeTLS("expired", ec, ek)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no certificate", []string{"library", "create", "--name", "lib2", "--dir", filepath.Join(dir, "lib2"), "--slots", "2", "--drives", "1", "--capacity", "64MiB"}, 1, []string{"serves mutual TLS; give -ca, -cert and -key"}},
		{"another CA's certificate", with(foreign, "library", "create", "--name", "lib2", "--dir", filepath.Join(dir, "lib2"), "--slots", "2", "--drives", "1", "--capacity", "64MiB"), 2, []string{"does not verify against the CA"}},
		{"an expired certificate", with(expired, "library", "create", "--name", "lib2", "--dir", filepath.Join(dir, "lib2"), "--slots", "2", "--drives", "1", "--capacity", "64MiB"), 2, []string{"expired"}},
		{"half the TLS flags", []string{"members", "-ca", ops.CA}, 2, []string{"-ca, -cert and -key go together"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := cli{t: t, addr: n1.GRPCAddr()}
			run.fails(tc.code, tc.want, tc.args...)
		})
	}
	// -device-dirs: /etc/passwd is no device; nor is the node's own log.
	run.fails(1, []string{"outside this node's device directories"}, with(ops, "disk", "add", "--name", "pw", "--path", "/etc/passwd")...)
	run.fails(1, []string{"own data"}, with(ops, "disk", "add", "--name", "raft", "--path", filepath.Join(dir, "n1", "raft.db"))...)

	// The CLI refuses those certificates before dialing; a client that
	// does not check its own is refused by the node's handshake.
	for name, f := range map[string]mtls.Files{"foreign": foreign, "expired": expired} {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := grpc.NewClient(n1.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}})))
		if err != nil {
			t.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = ferryv1.NewClusterServiceClient(conn).Members(cctx, &ferryv1.MembersRequest{})
		ccancel()
		conn.Close()
		// Unavailable: the handshake failed (the message varies with
		// which side's write noticed first).
		if status.Code(err) != codes.Unavailable {
			t.Errorf("%s certificate, own check skipped: %v, want the handshake refused", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "lib2")); err == nil {
		t.Error("a refused call created lib2's directory")
	}
	out = run.ok(with(ops, "library", "list")...)
	if strings.Contains(out.stdout, "lib2") || !strings.Contains(out.stdout, "lib1") {
		t.Fatalf("library list after the refusals:\n%s", out)
	}

	// A node presenting n2's certificate as n4 does not start.
	n2files, _ := c.TLSFiles(pki.RoleNode, "n2")
	gossipKey, err := c.GossipKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartNodeFunc(ctx, localcluster.StartOptions{Name: "n4", Join: []string{"n1"}},
		func(localcluster.Ports) ([]string, error) {
			return []string{"-tls-ca", n2files.CA, "-tls-cert", n2files.Cert, "-tls-key", n2files.Key, "-gossip-key", gossipKey}, nil
		}); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, "n4"); !errors.Is(err, localcluster.ErrExited) {
		t.Fatalf("n4 with n2's certificate: %v, want it to exit", err)
	}
	if tail := c.Tails(5); !strings.Contains(tail, `is the certificate of spiffe://ferry/node/n2, not of node "n4"`) {
		t.Fatalf("n4's log does not say why:\n%s", tail)
	}

	// A node with its own certificate but another gossip key, and one with
	// none (plaintext gossip, -insecure): neither joins, and the members
	// stay three.
	n5files, err := c.TLSFiles(pki.RoleNode, "n5")
	if err != nil {
		t.Fatal(err)
	}
	for name, extra := range map[string][]string{
		"n5": {"-tls-ca", n5files.CA, "-tls-cert", n5files.Cert, "-tls-key", n5files.Key, "-gossip-key", "uRkh/erjCg/IMuY3K0Wzjw2sCsadeRDl7BgeVuxmVP8="},
		"n6": {"-insecure"},
	} {
		if _, err := c.StartNodeFunc(ctx, localcluster.StartOptions{Name: name, Join: []string{"n1"}},
			func(localcluster.Ports) ([]string, error) { return extra, nil }); err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		err := c.WaitReady(wctx, name)
		wcancel()
		if err == nil {
			t.Fatalf("%s, without the cluster's gossip key, became ready", name)
		}
		t.Logf("%s: %v", name, err)
	}
	out = run.ok(with(ops, "members")...)
	if strings.Contains(out.stdout, "n5") || strings.Contains(out.stdout, "n6") {
		t.Fatalf("a node without the gossip key is a member:\n%s", out)
	}
	if tail := c.Tails(12); strings.Count(tail, "the gossip keys differ: every node needs the cluster's -gossip-key") < 2 {
		t.Fatalf("n5's and n6's logs do not say why they could not join:\n%s", tail)
	}
}

// TestPlaintextIsLoud: a cluster that opts out of TLS (-insecure) says so
// in its log at start and in `ferry members`, for every node.
func TestPlaintextIsLoud(t *testing.T) {
	// Plaintext is what this test is about.
	c := newClusterWith(t, localcluster.Config{Insecure: true, ExtraArgs: []string{"-run-jobs=false"}})
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(n1.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"level=WARN msg=\"gRPC and Raft in PLAINTEXT", "transport=\"PLAINTEXT"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	run := nodeCLI(t, c, n1)
	out := run.ok("members")
	if !regexp.MustCompile(`(?m)^n1 .* PLAINTEXT `).MatchString(out.stdout) || !strings.Contains(out.stdout, "PLAINTEXT (no TLS: -insecure or -dev): n1;") {
		t.Errorf("members does not say n1 serves plaintext:\n%s", out)
	}
}
