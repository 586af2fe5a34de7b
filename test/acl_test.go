package test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
	"github.com/ferry-san/ferry/security/pki"
)

// tokenRE finds a token's secret in the CLI's output.
var tokenRE = regexp.MustCompile(`(?m)^ferry_[A-Za-z0-9_-]{43}$`)

// tokenIn is the token's secret a command printed.
func tokenIn(t *testing.T, r cliResult) string {
	t.Helper()
	s := tokenRE.FindString(r.stdout)
	if s == "" {
		t.Fatalf("no token in the output:\n%s", r)
	}
	return s
}

// TestACLTokens: a secure 3-node cluster with ACLs bootstrapped. The admin
// token registers devices and makes tokens; an operator token copies, a
// read token lists, on every node. Refused, each with a clear message and
// no state change: no token, a revoked one, an expired one, a read token
// copying, an operator token registering a disk or making tokens, a node
// certificate without a token, and a second bootstrap.
func TestACLTokens(t *testing.T) {
	dir := t.TempDir()
	c, err := localcluster.New(localcluster.Config{Binary: ferryBinary, Dir: dir, ACL: true, ExtraArgs: []string{"-device-dirs", dir}})
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
	if _, err := c.WaitVoters(ctx, "n1", "n2", "n3"); err != nil {
		t.Fatal(err)
	}
	admin := c.ACLToken()
	if !tokenRE.MatchString(admin) {
		t.Fatalf("the harness's management token %q", admin)
	}
	ops, err := c.TLSFiles(pki.RoleClient, "ops")
	if err != nil {
		t.Fatal(err)
	}
	n2cert, err := c.TLSFiles(pki.RoleNode, "n2")
	if err != nil {
		t.Fatal(err)
	}
	clis := map[string]cli{}
	for _, name := range []string{"n1", "n2", "n3"} {
		n, _ := c.Node(name)
		clis[name] = cli{t: t, addr: n.GRPCAddr()}
	}
	run := clis["n1"]
	// as runs a command with the ops certificate and a token ("" none).
	as := func(token string, args ...string) []string {
		args = append(args, "-ca", ops.CA, "-cert", ops.Cert, "-key", ops.Key)
		if token != "" {
			args = append(args, "-token", token)
		}
		return args
	}
	path := func(name string) string { return filepath.Join(dir, name) }

	// The administrator's sequence.
	if r := run.ok(as(admin, "acl", "whoami")...); !regexp.MustCompile(`token +management +admin +bootstrapped`).MatchString(r.stdout) {
		t.Errorf("whoami with the management token:\n%s", r)
	}
	fillRandom(t, path("src.img"), diskBytes)
	run.ok(as(admin, "disk", "add", "--name", "src", "--path", path("src.img"))...)
	run.ok(as(admin, "disk", "create", "--name", "dst", "--size", "4MiB", "--path", path("dst.img"))...)
	run.ok(as(admin, "library", "create", "--name", "lib1", "--dir", path("lib1"), "--slots", "2", "--drives", "1", "--capacity", "64MiB")...)
	operator := tokenIn(t, run.ok(as(admin, "acl", "token", "create", "--name", "backup-app", "--role", "operator", "--ttl", "720h")...))
	reader := tokenIn(t, run.ok(as(admin, "acl", "token", "create", "--name", "monitor", "--role", "read")...))
	short := tokenIn(t, run.ok(as(admin, "acl", "token", "create", "--name", "short", "--role", "admin", "--ttl", "1s")...))
	r := run.ok(as(admin, "acl", "token", "list")...)
	for _, want := range []string{"backup-app", "operator", "monitor", "management"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("token list lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout, "ferry_") {
		t.Errorf("token list shows a secret:\n%s", r)
	}
	run.ok(as(admin, "acl", "secret", "set", "iscsi-chap", "user=iqn.2026-12.io.ferry:backup", "secret=chap-secret-12")...)
	if r := run.ok(as(admin, "acl", "secret", "list")...); !strings.Contains(r.stdout, "iscsi-chap") || strings.Contains(r.stdout, "chap-secret-12") {
		t.Errorf("secret list:\n%s", r)
	}
	// The operator token copies and labels on a follower; the read token
	// lists on every node.
	clis["n3"].ok(as(operator, "tape", "label", "--library", "lib1", "--slot", "1", "--barcode", "A00001L9")...)
	clis["n2"].ok(as(operator, "copy", "disk:src", "disk:dst")...)
	for name, node := range clis {
		for _, cmd := range [][]string{{"members"}, {"job", "list"}, {"disk", "list"}, {"raft", "status"}} {
			if r := node.ok(as(reader, cmd...)...); strings.TrimSpace(r.stdout) == "" {
				t.Errorf("%s on %s printed nothing", cmd, name)
			}
		}
	}
	jobsBefore := run.ok(as(admin, "job", "list")...).stdout
	disksBefore := run.ok(as(admin, "disk", "list")...).stdout

	// Refused.
	run.ok(as(admin, "acl", "token", "revoke", "monitor")...)
	wait, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	for run.run(as(short, "acl", "whoami")...).code == 0 && wait.Err() == nil {
		// The 1 s token expires on the node's clock.
	}
	nodeCert := func(args ...string) []string {
		return append(args, "-ca", n2cert.CA, "-cert", n2cert.Cert, "-key", n2cert.Key)
	}
	for _, tc := range []struct {
		name string
		node string
		args []string
		want []string
	}{
		{"no token", "n1", as("", "disk", "create", "--name", "x1", "--size", "1MiB", "--path", path("x1.img")), []string{"unauthenticated", "no ACL token", "pass -token or FERRY_TOKEN"}},
		{"no token on a follower", "n3", as("", "job", "list"), []string{"unauthenticated", "no ACL token"}},
		{"revoked token", "n2", as(reader, "job", "list"), []string{"unauthenticated", "unknown or revoked"}},
		{"expired token", "n1", as(short, "disk", "create", "--name", "x2", "--size", "1MiB", "--path", path("x2.img")), []string{"unauthenticated", `"short" expired`}},
		{"operator registering a disk", "n2", as(operator, "disk", "create", "--name", "x3", "--size", "1MiB", "--path", path("x3.img")), []string{"permission denied", `"backup-app" has role operator`, "CreateDisk needs role admin"}},
		{"operator adding a disk", "n1", as(operator, "disk", "add", "--name", "x4", "--path", path("src.img")), []string{"permission denied", "AddDisk needs role admin"}},
		{"operator making a token", "n1", as(operator, "acl", "token", "create", "--name", "mine", "--role", "admin"), []string{"permission denied", "CreateToken needs role admin"}},
		{"a node's certificate is no key", "n1", nodeCert("disk", "create", "--name", "x5", "--size", "1MiB", "--path", path("x5.img")), []string{"unauthenticated", "no ACL token"}},
		{"second bootstrap", "n3", as("", "acl", "bootstrap"), []string{"failed precondition", "already bootstrapped"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := clis[tc.node]
			node.t = t
			node.fails(1, tc.want, tc.args...)
		})
	}
	// The read token's copy was refused as unknown (it was revoked first);
	// a live read token is refused by role.
	reader2 := tokenIn(t, run.ok(as(admin, "acl", "token", "create", "--name", "monitor2", "--role", "read")...))
	run.fails(1, []string{"permission denied", `"monitor2" has role read`, "Submit needs role operator"}, as(reader2, "copy", "disk:dst", "disk:src")...)

	if got := run.ok(as(admin, "job", "list")...).stdout; got != jobsBefore {
		t.Errorf("the refusals changed the jobs:\nbefore\n%s\nafter\n%s", jobsBefore, got)
	}
	if got := run.ok(as(admin, "disk", "list")...).stdout; got != disksBefore {
		t.Errorf("the refusals changed the disks:\nbefore\n%s\nafter\n%s", disksBefore, got)
	}
	for _, f := range []string{"x1.img", "x2.img", "x3.img", "x5.img"} {
		if _, err := os.Stat(path(f)); err == nil {
			t.Errorf("a refused call created %s", f)
		}
	}
	if r := run.ok(as(admin, "acl", "token", "list")...); strings.Contains(r.stdout, "mine") || strings.Contains(r.stdout, "monitor ") {
		t.Errorf("token list after the refusals:\n%s", r)
	}
}
