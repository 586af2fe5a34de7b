package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/ferry-san/ferry/security/pki"
)

// Files are the PEM files of a node or a client.
type Files struct {
	// CA is the cluster CA's certificate.
	CA string
	// Cert and Key are this process's certificate, signed by the CA, and
	// its private key.
	Cert, Key string
}

// Config configures a Store.
type Config struct {
	Files
	// Cluster is the trust domain: the cluster's name (-cluster-name).
	// Empty: the one the CA certificate names (for clients).
	Cluster string
	// Poll is how often Watch looks at the files' modification times.
	// Default 10 s.
	Poll time.Duration
	// Logger reports reloads. Default: slog.Default().
	Logger *slog.Logger
}

// DefaultPoll is Config.Poll's default.
const DefaultPoll = 10 * time.Second

// material is one consistent set of what the files hold.
type material struct {
	roots    *x509.CertPool
	cert     tls.Certificate
	identity pki.Identity
	notAfter time.Time
	stamps   [3]time.Time // the files' modification times when read
}

// Store is the TLS material of a process, replaced whole on reload.
type Store struct {
	cfg Config
	cur atomic.Pointer[material]
	mu  sync.Mutex // serializes reloads
}

// Load reads the files and returns a Store serving them.
func Load(cfg Config) (*Store, error) {
	if cfg.CA == "" || cfg.Cert == "" || cfg.Key == "" {
		return nil, errors.New("mtls: the CA certificate, the certificate and the key are all needed")
	}
	if cfg.Cluster == "" {
		// A client need not know the cluster's name: its CA does.
		caPEM, err := os.ReadFile(cfg.CA)
		if err != nil {
			return nil, fmt.Errorf("mtls: %w", err)
		}
		ca, err := pki.ParseCert(caPEM)
		if err != nil {
			return nil, fmt.Errorf("mtls: %s: %w", cfg.CA, err)
		}
		if cfg.Cluster, err = pki.ClusterOf(ca); err != nil {
			return nil, fmt.Errorf("mtls: %s: %w", cfg.CA, err)
		}
	}
	if err := pki.CheckName("cluster", cfg.Cluster); err != nil {
		return nil, err
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Store{cfg: cfg}
	m, err := s.read()
	if err != nil {
		return nil, err
	}
	s.cur.Store(m)
	return s, nil
}

// Identity is whom this process's certificate names.
func (s *Store) Identity() pki.Identity { return s.cur.Load().identity }

// NotAfter is when this process's certificate expires.
func (s *Store) NotAfter() time.Time { return s.cur.Load().notAfter }

func (s *Store) read() (*material, error) {
	var m material
	for i, p := range []string{s.cfg.CA, s.cfg.Cert, s.cfg.Key} {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("mtls: %w", err)
		}
		m.stamps[i] = fi.ModTime()
	}
	caPEM, err := os.ReadFile(s.cfg.CA)
	if err != nil {
		return nil, fmt.Errorf("mtls: %w", err)
	}
	cas, err := pki.ParseCerts(caPEM)
	if err != nil {
		return nil, fmt.Errorf("mtls: %s: %w", s.cfg.CA, err)
	}
	m.roots = x509.NewCertPool()
	for i, ca := range cas {
		if !ca.IsCA {
			return nil, fmt.Errorf("mtls: %s: certificate %d is not a CA certificate", s.cfg.CA, i+1)
		}
		// A bundle (a CA rollover) trusts CAs of this cluster only.
		cluster, err := pki.ClusterOf(ca)
		if err != nil {
			return nil, fmt.Errorf("mtls: %s: certificate %d: %w", s.cfg.CA, i+1, err)
		}
		if cluster != s.cfg.Cluster {
			return nil, fmt.Errorf("mtls: %s: certificate %d is the CA of cluster %q, not %q", s.cfg.CA, i+1, cluster, s.cfg.Cluster)
		}
		m.roots.AddCert(ca)
	}
	m.cert, err = tls.LoadX509KeyPair(s.cfg.Cert, s.cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("mtls: %s and %s: %w", s.cfg.Cert, s.cfg.Key, err)
	}
	leaf := m.cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(m.cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("mtls: %s: %w", s.cfg.Cert, err)
		}
	}
	// Our own certificate must pass what our peers will check.
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: m.roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("mtls: %s does not verify against the CA in %s: %w", s.cfg.Cert, s.cfg.CA, err)
	}
	if m.identity, err = pki.Identify(leaf, s.cfg.Cluster); err != nil {
		return nil, fmt.Errorf("mtls: %s: %w", s.cfg.Cert, err)
	}
	m.notAfter = leaf.NotAfter
	return &m, nil
}

// Reload re-reads the files; on failure the material in use stays.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.read()
	if err != nil {
		return err
	}
	s.cur.Store(m)
	return nil
}

// changed says whether a file's modification time differs from when the
// material in use was read.
func (s *Store) changed() bool {
	m := s.cur.Load()
	for i, p := range []string{s.cfg.CA, s.cfg.Cert, s.cfg.Key} {
		fi, err := os.Stat(p)
		if err != nil || !fi.ModTime().Equal(m.stamps[i]) {
			return true
		}
	}
	return false
}

// Watch reloads on SIGHUP and when the files change, until ctx ends.
func (s *Store) Watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		why := ""
		select {
		case <-ctx.Done():
			return
		case <-hup:
			why = "SIGHUP"
		case <-t.C:
			if !s.changed() {
				continue
			}
			why = "files changed"
		}
		if err := s.Reload(); err != nil {
			s.cfg.Logger.Error("TLS certificates not reloaded: still using the previous ones", "why", why, "err", err)
			continue
		}
		s.cfg.Logger.Info("TLS certificates reloaded", "why", why, "identity", s.Identity(), "expires", s.NotAfter())
	}
}

// verify checks a peer's chain against the CA in use and returns whom it
// names. usage is what the peer must be allowed to do (server or client
// authentication).
func (s *Store) verify(raw [][]byte, usage x509.ExtKeyUsage) (pki.Identity, error) {
	if len(raw) == 0 {
		return pki.Identity{}, errors.New("mtls: the peer sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return pki.Identity{}, fmt.Errorf("mtls: the peer's certificate: %w", err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	m := s.cur.Load()
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: m.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return pki.Identity{}, fmt.Errorf("mtls: the peer's certificate: %w", err)
	}
	return pki.Identify(certs[0], s.cfg.Cluster)
}

// ServerTLS is the configuration of a server: TLS 1.3, this process's
// certificate, a client certificate of the CA required.
func (s *Store) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &s.cur.Load().cert, nil
		},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := s.verify(rawCerts(cs), x509.ExtKeyUsageClientAuth)
			return err
		},
	}
}

// ClientTLS is the configuration of a client dialing a node: node names
// the node it must be ("" for any node of the cluster).
func (s *Store) ClientTLS(node string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &s.cur.Load().cert, nil
		},
		// Verified below against the CA of the moment, by identity
		// rather than host name.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := s.verify(rawCerts(cs), x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if id.Role != pki.RoleNode {
				return fmt.Errorf("mtls: the server is %s, not a node", id)
			}
			if node != "" && id.Name != node {
				return fmt.Errorf("mtls: the server presented the certificate of node %q, not %q", id.Name, node)
			}
			return nil
		},
	}
}

func rawCerts(cs tls.ConnectionState) [][]byte {
	raw := make([][]byte, len(cs.PeerCertificates))
	for i, c := range cs.PeerCertificates {
		raw[i] = c.Raw
	}
	return raw
}

// ServerCredentials are ServerTLS for a gRPC server.
func (s *Store) ServerCredentials() credentials.TransportCredentials {
	return credentials.NewTLS(s.ServerTLS())
}

// NodeCredentials are ClientTLS(node) for a gRPC client.
func (s *Store) NodeCredentials(node string) credentials.TransportCredentials {
	return credentials.NewTLS(s.ClientTLS(node))
}

// PeerIdentity is whom the certificate of a gRPC call's peer names; false
// when the call did not come over mutual TLS.
func PeerIdentity(ctx context.Context, cluster string) (pki.Identity, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return pki.Identity{}, false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.PeerCertificates) == 0 {
		return pki.Identity{}, false
	}
	id, err := pki.Identify(info.State.PeerCertificates[0], cluster)
	return id, err == nil
}
