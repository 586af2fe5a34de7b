package mtls

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ferry-san/ferry/security/pki"
)

// pkiDir is a CA with its certificates in a directory.
type pkiDir struct {
	t   *testing.T
	dir string
	ca  *pki.CA
}

func newPKI(t *testing.T, cluster string) *pkiDir {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM, err := pki.NewCA(cluster, pki.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), certPEM, 0o600)
	return &pkiDir{t: t, dir: dir, ca: ca}
}

// files writes a certificate (a node's, or a client's when client) and
// returns the Files naming it with this CA.
func (p *pkiDir) files(name string, client bool, cfg pki.Config) Files {
	p.t.Helper()
	var certPEM, keyPEM []byte
	var err error
	if client {
		certPEM, keyPEM, err = p.ca.IssueClient(name, cfg)
	} else {
		certPEM, keyPEM, err = p.ca.IssueNode(pki.NodeConfig{Name: name}, cfg)
	}
	if err != nil {
		p.t.Fatal(err)
	}
	f := Files{CA: filepath.Join(p.dir, "ca.pem"), Cert: filepath.Join(p.dir, name+".pem"), Key: filepath.Join(p.dir, name+"-key.pem")}
	writeFile(p.t, f.Cert, certPEM)
	writeFile(p.t, f.Key, keyPEM)
	return f
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, f Files) *Store {
	t.Helper()
	s, err := Load(Config{Files: f, Cluster: "ferry"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dial makes one TLS connection from client to server and returns the
// first error of either side.
func dial(t *testing.T, server *tls.Config, client *tls.Config) (serverSaw []byte, err error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		err = c.(*tls.Conn).HandshakeContext(context.Background())
		if err == nil {
			_, err = c.Write([]byte("ok"))
		}
		errc <- err
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		<-errc
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2)
	_, rerr := c.Read(buf)
	return buf, errors.Join(rerr, <-errc)
}

// TestHandshakes: who may talk to whom.
func TestHandshakes(t *testing.T) {
	p := newPKI(t, "ferry")
	n1 := load(t, p.files("n1", false, pki.Config{}))
	n2 := load(t, p.files("n2", false, pki.Config{}))
	ops := load(t, p.files("ops", true, pki.Config{}))
	rogue := newPKI(t, "ferry")
	rogueOps := load(t, rogue.files("ops", true, pki.Config{}))
	rogueN1 := load(t, rogue.files("n1", false, pki.Config{}))
	for _, tc := range []struct {
		name   string
		server *tls.Config
		client *tls.Config
		want   string // "" for success
	}{
		{"client to node", n1.ServerTLS(), ops.ClientTLS(""), ""},
		{"node to the node it dials", n1.ServerTLS(), n2.ClientTLS("n1"), ""},
		{"node presenting another node's certificate", n1.ServerTLS(), n2.ClientTLS("n3"), `node "n1", not "n3"`},
		{"a client certificate serving", ops.ServerTLS(), n2.ClientTLS(""), "certificate"},
		{"client of another CA", n1.ServerTLS(), rogueOps.ClientTLS(""), "certificate"},
		{"node of another CA", rogueN1.ServerTLS(), ops.ClientTLS(""), "unknown authority"},
		{"no client certificate", n1.ServerTLS(), &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}, "certificate"},
		{"TLS 1.2", n1.ServerTLS(), func() *tls.Config {
			c := ops.ClientTLS("")
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return c
		}(), "version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dial(t, tc.server, tc.client)
			if tc.want == "" {
				if err != nil || string(got) != "ok" {
					t.Fatalf("%q %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestExpired: an expired client certificate is refused.
func TestExpired(t *testing.T) {
	p := newPKI(t, "ferry")
	n1 := load(t, p.files("n1", false, pki.Config{}))
	f := p.files("old", true, pki.Config{Days: 1, Now: time.Now().AddDate(0, 0, -2)})
	if _, err := Load(Config{Files: f, Cluster: "ferry"}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Load of an expired certificate: %v", err)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	old := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}}
	if _, err := dial(t, n1.ServerTLS(), old); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("expired client: %v", err)
	}
}

// TestReload: a replaced certificate is used by connections made after the
// reload; a broken replacement keeps the old one; Watch notices a change.
func TestReload(t *testing.T) {
	p := newPKI(t, "ferry")
	f := p.files("n1", false, pki.Config{})
	n1 := load(t, f)
	before := n1.NotAfter()
	certPEM, keyPEM, err := p.ca.IssueNode(pki.NodeConfig{Name: "n1"}, pki.Config{Days: 10})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, f.Cert, certPEM)
	// The key no longer matches: the reload fails and the old pair stays.
	if err := n1.Reload(); err == nil {
		t.Fatal("a certificate without its key was loaded")
	}
	if !n1.NotAfter().Equal(before) {
		t.Fatal("a failed reload replaced the material")
	}
	writeFile(t, f.Key, keyPEM)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Load(Config{Files: f, Cluster: "ferry", Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go s.Watch(ctx)
	if err := n1.Reload(); err != nil {
		t.Fatal(err)
	}
	if n1.NotAfter().Equal(before) {
		t.Fatal("the reload did not take the new certificate")
	}
	ops := load(t, p.files("ops", true, pki.Config{}))
	if _, err := dial(t, n1.ServerTLS(), ops.ClientTLS("n1")); err != nil {
		t.Fatal(err)
	}
	// Watch: a third certificate appears; the watcher picks it up.
	want := s.NotAfter()
	certPEM, keyPEM, _ = p.ca.IssueNode(pki.NodeConfig{Name: "n1"}, pki.Config{Days: 20})
	writeFile(t, f.Key, keyPEM)
	writeFile(t, f.Cert, certPEM)
	// Make sure the modification time moves even on a coarse clock.
	later := time.Now().Add(time.Second)
	os.Chtimes(f.Cert, later, later)
	deadline := time.Now().Add(30 * time.Second)
	for s.NotAfter().Equal(want) {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not reload the changed files")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLoadRefuses: a certificate of another CA or another cluster, a
// missing file.
func TestLoadRefuses(t *testing.T) {
	p := newPKI(t, "ferry")
	other := newPKI(t, "ferry")
	f := other.files("n1", false, pki.Config{})
	f.CA = filepath.Join(p.dir, "ca.pem")
	if _, err := Load(Config{Files: f, Cluster: "ferry"}); err == nil || !strings.Contains(err.Error(), "does not verify against the CA") {
		t.Errorf("foreign certificate: %v", err)
	}
	if _, err := Load(Config{Files: p.files("n1", false, pki.Config{}), Cluster: "west"}); err == nil || !strings.Contains(err.Error(), `cluster "ferry", not "west"`) {
		t.Errorf("other cluster: %v", err)
	}
	if _, err := Load(Config{Files: Files{CA: "/nonexistent", Cert: "x", Key: "y"}, Cluster: "ferry"}); err == nil {
		t.Error("missing files loaded")
	}
}

// TestGRPC: a gRPC call over mutual TLS; the handler reads the caller's
// identity; a plaintext client is refused.
func TestGRPC(t *testing.T) {
	p := newPKI(t, "ferry")
	n1 := load(t, p.files("n1", false, pki.Config{}))
	ops := load(t, p.files("ops", true, pki.Config{}))
	var seen pki.Identity
	gs := grpc.NewServer(grpc.Creds(n1.ServerCredentials()), grpc.UnaryInterceptor(
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			seen, _ = PeerIdentity(ctx, "ferry")
			return h(ctx, req)
		}))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	call := func(opt grpc.DialOption) error {
		conn, err := grpc.NewClient(ln.Addr().String(), opt)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := call(grpc.WithTransportCredentials(ops.NodeCredentials("n1"))); err != nil {
		t.Fatal(err)
	}
	if seen != (pki.Identity{Cluster: "ferry", Role: pki.RoleClient, Name: "ops"}) {
		t.Fatalf("the handler saw %v", seen)
	}
	if err := call(grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Fatal("a plaintext call was served")
	}
}

// TestCABundle: a CA file holding the old and the new CA of a rollover
// admits certificates of both; once the old CA is dropped, its
// certificates are refused. A bundle holding another cluster's CA is not
// loaded.
func TestCABundle(t *testing.T) {
	old, next := newPKI(t, "ferry"), newPKI(t, "ferry")
	oldPEM, _ := os.ReadFile(filepath.Join(old.dir, "ca.pem"))
	nextPEM, _ := os.ReadFile(filepath.Join(next.dir, "ca.pem"))
	n1 := next.files("n1", false, pki.Config{})
	writeFile(t, n1.CA, append(append([]byte{}, oldPEM...), nextPEM...))
	server := load(t, n1)
	opsOld, opsNext := load(t, old.files("ops", true, pki.Config{})), load(t, next.files("ops", true, pki.Config{}))
	// The old client trusts the new server's CA too once its bundle has it.
	writeFile(t, filepath.Join(old.dir, "ca.pem"), append(append([]byte{}, oldPEM...), nextPEM...))
	if err := opsOld.Reload(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Store{"old CA's client": opsOld, "new CA's client": opsNext} {
		if _, err := dial(t, server.ServerTLS(), c.ClientTLS("n1")); err != nil {
			t.Errorf("%s refused during the rollover: %v", name, err)
		}
	}
	writeFile(t, n1.CA, nextPEM)
	if err := server.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, server.ServerTLS(), opsOld.ClientTLS("n1")); err == nil {
		t.Error("the old CA's client was admitted after the old CA was dropped")
	}
	if _, err := dial(t, server.ServerTLS(), opsNext.ClientTLS("n1")); err != nil {
		t.Errorf("the new CA's client refused: %v", err)
	}
	west := newPKI(t, "west")
	westPEM, _ := os.ReadFile(filepath.Join(west.dir, "ca.pem"))
	writeFile(t, n1.CA, append(append([]byte{}, nextPEM...), westPEM...))
	if err := server.Reload(); err == nil || !strings.Contains(err.Error(), `the CA of cluster "west", not "ferry"`) {
		t.Errorf("a bundle with another cluster's CA: %v", err)
	}
}
