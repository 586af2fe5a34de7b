package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newCA(t *testing.T, cluster string, cfg Config) *CA {
	t.Helper()
	certPEM, keyPEM, err := NewCA(cluster, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// keyPair is an issued certificate as crypto/tls takes it; issuing must
// have succeeded.
func keyPair(certPEM, keyPEM []byte, err error) tls.Certificate {
	if err != nil {
		panic(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		panic(err)
	}
	return c
}

// handshake runs a mutual TLS 1.3 handshake: a server trusting serverCA
// with the server certificate, a client trusting clientCA with the client
// certificate. It returns the identity each side reads of the other, or
// the first error.
func handshake(t *testing.T, serverCA, clientCA *CA, server, client tls.Certificate) (fromClient, fromServer Identity, err error) {
	t.Helper()
	pool := func(ca *CA) *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(ca.Cert)
		return p
	}
	// Loopback TCP, not net.Pipe: a server refusing the client sends its
	// alert after the client's handshake is done, and a pipe would block
	// that write for ever.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := tls.Server(a, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{server},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool(serverCA)})
	cli := tls.Client(b, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{client},
		RootCAs: pool(clientCA), ServerName: "localhost"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.HandshakeContext(ctx) }()
	cerr := cli.HandshakeContext(ctx)
	if cerr != nil {
		a.Close()
	}
	serr := <-errc
	if err := errors.Join(cerr, serr); err != nil {
		return Identity{}, Identity{}, err
	}
	fromClient, err = Identify(srv.ConnectionState().PeerCertificates[0], serverCA.Cluster())
	if err != nil {
		return
	}
	fromServer, err = Identify(cli.ConnectionState().PeerCertificates[0], clientCA.Cluster())
	return
}

// TestMutualTLS: a node and a client certificate of one CA complete a
// mutual TLS 1.3 handshake and each side reads the other's identity.
func TestMutualTLS(t *testing.T) {
	ca := newCA(t, "ferry", Config{})
	node := keyPair(ca.IssueNode(NodeConfig{Name: "n1", DNS: []string{"n1.example.com"}, IPs: []net.IP{net.ParseIP("10.0.0.1")}}, Config{}))
	client := keyPair(ca.IssueClient("backup-app", Config{}))
	fromClient, fromServer, err := handshake(t, ca, ca, node, client)
	if err != nil {
		t.Fatal(err)
	}
	if fromClient != (Identity{Cluster: "ferry", Role: RoleClient, Name: "backup-app"}) {
		t.Errorf("the server read %v", fromClient)
	}
	if fromServer != (Identity{Cluster: "ferry", Role: RoleNode, Name: "n1"}) {
		t.Errorf("the client read %v", fromServer)
	}
	// Nodes dial each other: a node certificate is a client too.
	other := keyPair(ca.IssueNode(NodeConfig{Name: "n2"}, Config{}))
	if fromClient, _, err := handshake(t, ca, ca, node, other); err != nil || fromClient.Name != "n2" || fromClient.Role != RoleNode {
		t.Errorf("node to node: %v %v", fromClient, err)
	}
	leaf, _ := x509.ParseCertificate(node.Certificate[0])
	if !contains(leaf.DNSNames, "localhost") || !contains(leaf.DNSNames, "n1.example.com") || len(leaf.IPAddresses) != 2 {
		t.Errorf("node certificate names %v %v", leaf.DNSNames, leaf.IPAddresses)
	}
}

// TestRefusedHandshakes: a certificate of another CA, an expired one, a
// client certificate offered as a server's: the handshake fails.
func TestRefusedHandshakes(t *testing.T) {
	ca := newCA(t, "ferry", Config{})
	rogue := newCA(t, "ferry", Config{})
	node := keyPair(ca.IssueNode(NodeConfig{Name: "n1"}, Config{}))
	client := keyPair(ca.IssueClient("ops", Config{}))
	expired := keyPair(ca.IssueClient("old", Config{Days: 1, Now: time.Now().AddDate(0, 0, -3)}))
	for _, tc := range []struct {
		name           string
		server, client tls.Certificate
		want           string
	}{
		{"client of another CA", node, keyPair(rogue.IssueClient("ops", Config{})), "unknown authority"},
		{"node of another CA", keyPair(rogue.IssueNode(NodeConfig{Name: "n1"}, Config{})), client, "unknown authority"},
		{"expired client", node, expired, "expired"},
		{"client certificate as a server", keyPair(ca.issue(Identity{Cluster: "ferry", Role: RoleClient, Name: "ops"}, []string{"localhost"}, nil,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Config{})), client, "incompatible key usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := handshake(t, ca, ca, tc.server, tc.client)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("handshake: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestCANameConstraint: a Ferry CA signs identities of its own trust
// domain only; a certificate naming another cluster fails verification
// even if signed by it.
func TestCANameConstraint(t *testing.T) {
	ca := newCA(t, "east", Config{})
	// Forge: sign an identity of cluster "west" with east's CA.
	forged := &CA{Cert: ca.Cert, Key: ca.Key, certPEM: ca.certPEM}
	certPEM, _, err := forged.issue(Identity{Cluster: "west", Role: RoleNode, Name: "n1"}, []string{"localhost"}, nil,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ParseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool}); err == nil {
		t.Fatal("a certificate for another trust domain verified")
	}
}

// TestIdentify: malformed or foreign identities are refused.
func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		uris []string
		ok   bool
	}{
		{[]string{"spiffe://ferry/node/n1"}, true},
		{[]string{"spiffe://ferry/client/backup-app"}, true},
		{nil, false},
		{[]string{"spiffe://ferry/node/n1", "spiffe://ferry/node/n2"}, false},
		{[]string{"spiffe://other/node/n1"}, false},
		{[]string{"https://ferry/node/n1"}, false},
		{[]string{"spiffe://ferry/admin/n1"}, false},
		{[]string{"spiffe://ferry/node/"}, false},
		{[]string{"spiffe://ferry/node"}, false},
		{[]string{"spiffe://ferry/node/n1/x"}, false},
		{[]string{"spiffe://ferry/node/N1"}, false},
		{[]string{"spiffe://ferry/node/n1?x=1"}, false},
		{[]string{"spiffe://u@ferry/node/n1"}, false},
		{[]string{"spiffe://ferry/node/n1#f"}, false},
		{[]string{"spiffe://ferry//node/n1"}, false},
		{[]string{"spiffe://ferry/node/n1?"}, false},
		{[]string{"spiffe://ferry:8443/node/n1"}, false},
	} {
		var cert x509.Certificate
		for _, s := range tc.uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			cert.URIs = append(cert.URIs, u)
		}
		_, err := Identify(&cert, "ferry")
		if (err == nil) != tc.ok {
			t.Errorf("Identify(%v) = %v, want ok=%v", tc.uris, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Identify(%v): %v does not wrap ErrInvalid", tc.uris, err)
		}
	}
}

// TestBadInput: every refusal names what is wrong and wraps ErrInvalid.
func TestBadInput(t *testing.T) {
	ca := newCA(t, "ferry", Config{Days: 30})
	otherCert, _, _ := NewCA("ferry", Config{})
	_, otherKey, _ := NewCA("ferry", Config{})
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"cluster name", second(NewCA("Ferry!", Config{})), "cluster"},
		{"zero days is the default, negative is not", second(NewCA("ferry", Config{Days: -1})), "days"},
		{"too many days", second(NewCA("ferry", Config{Days: MaxDays + 1})), "days"},
		{"node name", second(ca.IssueNode(NodeConfig{Name: "n_1"}, Config{})), "node"},
		{"client name", second(ca.IssueClient("", Config{})), "client"},
		{"DNS name", second(ca.IssueNode(NodeConfig{Name: "n1", DNS: []string{"bad name"}}, Config{})), "DNS"},
		{"outlives the CA", second(ca.IssueClient("ops", Config{Days: 31})), "outlive"},
		{"key of another CA", errOf(LoadCA(ca.CertPEM(), otherKey)), "does not belong"},
		{"garbage certificate", errOf(LoadCA([]byte("nope"), otherKey)), "PEM"},
		{"garbage key", errOf(LoadCA(otherCert, []byte("nope"))), "PEM"},
	} {
		if tc.err == nil || !errors.Is(tc.err, ErrInvalid) || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrInvalid mentioning %q", tc.name, tc.err, tc.want)
		}
	}
	leafPEM, _, _ := ca.IssueClient("ops", Config{})
	if _, err := LoadCA(leafPEM, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("a leaf loaded as a CA: %v", err)
	}
}

func TestWriteNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca-key.pem")
	if err := WriteNew(path, []byte("secret")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi.Mode(), err)
	}
	if err := WriteNew(path, []byte("other")); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second write: %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "secret" {
		t.Fatalf("the file was replaced: %q", b)
	}
}

func second[A, B any](_ A, b B, err error) error { return err }

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func errOf[A any](_ A, err error) error { return err }
