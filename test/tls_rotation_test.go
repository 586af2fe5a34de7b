package test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/pki"
)

// TestCertificateRotationWhileCopying: on a running secure cluster with two
// copies in flight, the cluster rolls over to a new CA without a restart:
// the CA file becomes a bundle of the old and the new CA, every node and
// the harness's client get certificates of the new CA, and the old CA is
// dropped, each step written to the files and announced with SIGHUP. The
// copies complete with the right bytes; every node then presents its new
// certificate (the old serial no longer), a new copy runs over the new
// certificates, a client of the old CA is refused, and so is an expired
// client certificate of the new CA, with a message that says it expired.
func TestCertificateRotationWhileCopying(t *testing.T) {
	m := startMovers(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	names := nodeNames(3)

	// Two 16 MiB copies at 1 MiB/s: about 12 s each (the mover reads 4 MiB
	// ahead of its pace), through the rotation.
	const size = 16 << 20
	type copyJob struct{ id, sum string }
	var jobs []copyJob
	for i := range 2 {
		src, dst := fmt.Sprintf("src%d", i), fmt.Sprintf("dst%d", i)
		data := m.addDisk(ctx, src, size)
		m.addEmptyDisk(ctx, dst, size)
		j := m.submit(ctx, "rotate-"+src, copySpec(src+" to "+dst, diskEndpoint(src, 0, 0), diskEndpoint(dst, 0, 0), 1<<20))
		jobs = append(jobs, copyJob{j.GetId(), sum(data)})
	}
	for _, j := range jobs {
		m.waitJob(ctx, j.id, "its first checkpoint", func(j *ferryv1.Job) (bool, string) { return running(j, 1) })
	}

	dir := m.c.PKIDir()
	caFile := filepath.Join(dir, pki.CACertFile)
	oldCAPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	oldClient, err := tls.LoadX509KeyPair(filepath.Join(dir, "client-localcluster.pem"), filepath.Join(dir, "client-localcluster-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	oldSerial := map[string]string{}
	for _, n := range names {
		leaf, err := probe(ctx, m, n, oldClient)
		if err != nil {
			t.Fatalf("%s before the rotation: %v", n, err)
		}
		oldSerial[n] = leaf.SerialNumber.String()
	}
	newCAPEM, newCAKey, err := pki.NewCA("ferry", pki.Config{})
	if err != nil {
		t.Fatal(err)
	}
	newCA, err := pki.LoadCA(newCAPEM, newCAKey)
	if err != nil {
		t.Fatal(err)
	}
	hup := func(step string) {
		t.Helper()
		for _, n := range names {
			if err := m.c.Signal(n, syscall.SIGHUP); err != nil {
				t.Fatalf("%s: SIGHUP %s: %v", step, n, err)
			}
		}
	}
	newClient := issueClient(t, newCA, "rotated", pki.Config{})

	// 1. Trust both CAs: the nodes admit a client of the new CA.
	replaceFile(t, caFile, append(append([]byte{}, oldCAPEM...), newCAPEM...))
	hup("the CA bundle")
	for _, n := range names {
		waitFor(t, ctx, n+" to trust the new CA", func() (bool, string) {
			_, err := probe(ctx, m, n, newClient)
			return err == nil, fmt.Sprint(err)
		})
	}

	// 2. Every node's certificate, and the harness's, of the new CA.
	for _, n := range names {
		cert, key, err := newCA.IssueNode(pki.NodeConfig{Name: n}, pki.Config{})
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile := pki.CertFiles(pki.RoleNode, n)
		replaceFile(t, filepath.Join(dir, keyFile), key)
		replaceFile(t, filepath.Join(dir, certFile), cert)
	}
	cert, key, err := newCA.IssueClient("localcluster", pki.Config{})
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, filepath.Join(dir, "client-localcluster-key.pem"), key)
	replaceFile(t, filepath.Join(dir, "client-localcluster.pem"), cert)
	if err := m.c.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	hup("the new certificates")
	for _, n := range names {
		waitFor(t, ctx, n+" to present its new certificate", func() (bool, string) {
			leaf, err := probe(ctx, m, n, newClient)
			if err != nil {
				return false, err.Error()
			}
			if leaf.SerialNumber.String() == oldSerial[n] {
				return false, "still the old serial " + oldSerial[n]
			}
			return leaf.CheckSignatureFrom(newCA.Cert) == nil, "not signed by the new CA"
		})
	}

	// 3. Drop the old CA: its client is refused.
	replaceFile(t, caFile, newCAPEM)
	hup("dropping the old CA")
	for _, n := range names {
		waitFor(t, ctx, n+" to refuse the old CA's client", func() (bool, string) {
			_, err := probe(ctx, m, n, oldClient)
			return err != nil, "admitted"
		})
	}

	for _, j := range jobs {
		if got, err := m.job(ctx, j.id); err != nil || got.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
			t.Logf("job %s ended before the rotation did (%v, %v): the rotation raced no copy", j.id, got.GetState(), err)
		}
	}
	for _, j := range jobs {
		m.waitSucceeded(ctx, j.id, j.sum, size)
	}
	// A copy after the rotation: placement, leases and checkpoints over
	// connections made with the new certificates.
	data := m.addDisk(ctx, "after", 256<<10)
	m.addEmptyDisk(ctx, "after-dst", 256<<10)
	j := m.submit(ctx, "rotate-after", copySpec("after", diskEndpoint("after", 0, 0), diskEndpoint("after-dst", 0, 0), 0))
	m.waitSucceeded(ctx, j.GetId(), sum(data), 256<<10)

	// The CLI: the new client works; an expired one of the new CA is
	// refused, saying so.
	n1, err := m.c.Node("n1")
	if err != nil {
		t.Fatal(err)
	}
	run := nodeCLI(t, m.c, n1)
	run.ok("members")
	expCert, expKey, err := newCA.IssueClient("old", pki.Config{Days: 1, Now: time.Now().AddDate(0, 0, -2)})
	if err != nil {
		t.Fatal(err)
	}
	expired := t.TempDir()
	replaceFile(t, filepath.Join(expired, "c.pem"), expCert)
	replaceFile(t, filepath.Join(expired, "k.pem"), expKey)
	cli{t: t, addr: n1.GRPCAddr()}.fails(2, []string{"expired"}, "members", "-ca", caFile, "-cert", filepath.Join(expired, "c.pem"), "-key", filepath.Join(expired, "k.pem"))
}

// issueClient is a client certificate of ca, as a TLS key pair.
func issueClient(t *testing.T, ca *pki.CA, name string, cfg pki.Config) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueClient(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// replaceFile replaces a file's contents at once (a rename), as an
// administrator's deployment would, with a modification time that moves.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// probe makes one call to the node's API over a new connection presenting
// client, and returns the certificate the node presented; an error if the
// node refused the client. It checks nothing of the node's certificate
// itself: the caller looks at it.
func probe(ctx context.Context, m *moverCluster, node string, client tls.Certificate) (*x509.Certificate, error) {
	n, err := m.c.Node(node)
	if err != nil {
		return nil, err
	}
	var served []byte
	creds := credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, Certificates: []tls.Certificate{client},
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) > 0 {
				served = bytes.Clone(raw[0])
			}
			return nil
		}})
	conn, err := grpc.NewClient(n.GRPCAddr(), grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := ferryv1.NewClusterServiceClient(conn).Members(cctx, &ferryv1.MembersRequest{}); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(served)
}
