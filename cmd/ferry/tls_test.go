package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-san/ferry/security/pki"
)

// TestTLSCommands: a CA, a node and a client certificate made by the
// commands load, verify and name their holders; nothing is ever replaced.
func TestTLSCommands(t *testing.T) {
	dir := t.TempDir()
	ok := func(args ...string) string {
		t.Helper()
		r := runFerry(t, nil, "", args...)
		if r.code != exitOK {
			t.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
		}
		return r.stdout
	}
	ok("tls", "ca", "create", "-dir", dir, "-cluster", "east", "-days", "30")
	ok("tls", "cert", "create", "-dir", dir, "-node", "n1", "-ip", "10.0.0.1", "-dns", "n1.san")
	ok("tls", "cert", "create", "-dir", dir, "-client", "backup-app", "-days", "7")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(filepath.Join(dir, name)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
		return b
	}
	ca, err := pki.LoadCA(read("ferry-ca.pem"), read("ferry-ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{"node-n1.pem": "spiffe://east/node/n1", "client-backup-app.pem": "spiffe://east/client/backup-app"} {
		cert, err := pki.ParseCert(read(file))
		if err != nil {
			t.Fatal(err)
		}
		id, err := pki.Identify(cert, ca.Cluster())
		if err != nil || id.String() != want {
			t.Errorf("%s names %v (%v), want %s", file, id, err, want)
		}
		read(strings.TrimSuffix(file, ".pem") + "-key.pem")
	}

	caBefore := read("ferry-ca-key.pem")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tls", "ca", "create", "-dir", dir}, exitFailure, "exists: not replacing it"},
		{[]string{"tls", "cert", "create", "-dir", dir, "-node", "n1"}, exitFailure, "exists: not replacing it"},
		{[]string{"tls", "cert", "create", "-dir", dir}, exitUsage, "exactly one of -node NAME and -client NAME"},
		{[]string{"tls", "cert", "create", "-dir", dir, "-node", "n2", "-client", "x"}, exitUsage, "exactly one"},
		{[]string{"tls", "cert", "create", "-dir", dir, "-client", "x", "-ip", "1.2.3.4"}, exitUsage, "-dns and -ip are for node certificates"},
		{[]string{"tls", "cert", "create", "-dir", dir, "-node", "n2", "-ip", "1.2.3"}, exitUsage, `-ip "1.2.3": not an IP address`},
		{[]string{"tls", "cert", "create", "-dir", dir, "-node", "N2"}, exitUsage, `node "N2"`},
		{[]string{"tls", "cert", "create", "-dir", dir, "-node", "n2", "-days", "31"}, exitUsage, "outlive the CA"},
		{[]string{"tls", "cert", "create", "-dir", t.TempDir(), "-node", "n2"}, exitUsage, `make one with "ferry tls ca create"`},
		{[]string{"tls", "ca", "create", "-dir", t.TempDir(), "-days", "-5"}, exitUsage, "-5 days"},
		{[]string{"tls", "ca", "rotate"}, exitUsage, "unknown command"},
		{[]string{"keygen", "extra"}, exitUsage, "unexpected argument"},
	} {
		r := runFerry(t, nil, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("ferry %s: exit %d, stderr %q; want exit %d saying %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}
	if string(read("ferry-ca-key.pem")) != string(caBefore) {
		t.Fatal("the CA key was replaced")
	}
	if _, err := os.Stat(filepath.Join(dir, "node-n2.pem")); err == nil {
		t.Fatal("a refused command left a certificate")
	}
}

func TestKeygen(t *testing.T) {
	a, b := runFerry(t, nil, "", "keygen"), runFerry(t, nil, "", "keygen")
	for _, r := range []result{a, b} {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(r.stdout))
		if r.code != exitOK || err != nil || len(key) != 32 {
			t.Fatalf("keygen: exit %d, %q: %v", r.code, r.stdout, err)
		}
	}
	if a.stdout == b.stdout {
		t.Fatal("two keys are the same")
	}
}
