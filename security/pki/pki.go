package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"time"
)

// Role is what a certificate's holder is to the cluster.
type Role string

const (
	RoleNode   Role = "node"
	RoleClient Role = "client"
)

// Identity is who a certificate names: spiffe://Cluster/Role/Name.
type Identity struct {
	Cluster string
	Role    Role
	Name    string
}

func (id Identity) String() string { return id.URL().String() }

// URL is the identity as the certificate's URI SAN.
func (id Identity) URL() *url.URL {
	return &url.URL{Scheme: "spiffe", Host: id.Cluster, Path: "/" + string(id.Role) + "/" + id.Name}
}

// ErrInvalid wraps every refusal of bad input (names, days, PEM).
var ErrInvalid = errors.New("pki: invalid")

// namePattern is what a cluster, node or client name may be: a DNS label
// (it becomes part of a URI and of DNS names).
var namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckName refuses a name that cannot be a certificate identity.
func CheckName(what, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%w: %s %q: use 1 to 63 lowercase letters, digits and inner hyphens", ErrInvalid, what, name)
	}
	return nil
}

// Config is what every issue needs besides its subject.
type Config struct {
	// Days the certificate is valid from Now. Default: 1825 for a CA;
	// 365 for a leaf, or until the CA expires if that is sooner (a leaf
	// given more days than its CA has left is refused).
	Days int
	// Now is the start of validity (backdated a minute for clock skew).
	// Default: time.Now().
	Now time.Time
}

// Defaults of Config.Days.
const (
	DefaultCADays   = 1825
	DefaultLeafDays = 365
	// MaxDays bounds any validity (about 27 years): a longer one is a
	// typing mistake, not a policy.
	MaxDays = 10000
)

func (c Config) withDefaults(days int) (Config, error) {
	if c.Days == 0 {
		c.Days = days
	}
	if c.Days < 1 || c.Days > MaxDays {
		return c, fmt.Errorf("%w: %d days: want 1 to %d", ErrInvalid, c.Days, MaxDays)
	}
	if c.Now.IsZero() {
		c.Now = time.Now()
	}
	return c, nil
}

// skew backdates validity so that a peer whose clock is a little behind
// accepts a certificate made just now.
const skew = time.Minute

// CA is a certificate authority able to sign.
type CA struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	certPEM []byte
}

// CertPEM is the CA certificate, the file every node and client trusts.
func (ca *CA) CertPEM() []byte { return ca.certPEM }

// Cluster is the trust domain the CA signs identities in.
func (ca *CA) Cluster() string { return ca.Cert.Subject.OrganizationalUnit[0] }

// NewCA makes a CA for the cluster's trust domain and returns its
// certificate and key as PEM.
func NewCA(cluster string, cfg Config) (certPEM, keyPEM []byte, err error) {
	if err := CheckName("cluster", cluster); err != nil {
		return nil, nil, err
	}
	cfg, err = cfg.withDefaults(DefaultCADays)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         "Ferry CA " + cluster,
			Organization:       []string{"Ferry"},
			OrganizationalUnit: []string{cluster},
		},
		NotBefore:             cfg.Now.Add(-skew),
		NotAfter:              cfg.Now.AddDate(0, 0, cfg.Days),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		PermittedURIDomains:   []string{cluster},
	}
	return sign(tmpl, nil, nil)
}

// ClusterOf is the trust domain of a Ferry CA certificate.
func ClusterOf(ca *x509.Certificate) (string, error) {
	if !ca.IsCA || len(ca.Subject.OrganizationalUnit) != 1 || CheckName("cluster", ca.Subject.OrganizationalUnit[0]) != nil {
		return "", fmt.Errorf("%w: the certificate is not a Ferry CA", ErrInvalid)
	}
	return ca.Subject.OrganizationalUnit[0], nil
}

// LoadCA reads a CA's certificate and key, checking that they belong
// together and that the certificate is a Ferry CA.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if _, err := ClusterOf(cert); err != nil {
		return nil, err
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil || b.Type != "EC PRIVATE KEY" {
		return nil, fmt.Errorf("%w: the CA key is not a PEM EC PRIVATE KEY", ErrInvalid)
	}
	key, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: the CA key: %v", ErrInvalid, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("%w: the CA key does not belong to the CA certificate", ErrInvalid)
	}
	return &CA{Cert: cert, Key: key, certPEM: certPEM}, nil
}

// NodeConfig is a node certificate's subject.
type NodeConfig struct {
	Name string
	// DNS names and IP addresses the node is reached at, besides
	// localhost and 127.0.0.1.
	DNS []string
	IPs []net.IP
}

// IssueNode signs a certificate for the node, usable as TLS server and
// client, and returns it with its key as PEM.
func (ca *CA) IssueNode(n NodeConfig, cfg Config) (certPEM, keyPEM []byte, err error) {
	if err := CheckName("node", n.Name); err != nil {
		return nil, nil, err
	}
	dns := append([]string{"localhost"}, n.DNS...)
	ips := append([]net.IP{net.IPv4(127, 0, 0, 1)}, n.IPs...)
	return ca.issue(Identity{Cluster: ca.Cluster(), Role: RoleNode, Name: n.Name}, slices.Compact(dns), ips,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, cfg)
}

// IssueClient signs a TLS client certificate for name.
func (ca *CA) IssueClient(name string, cfg Config) (certPEM, keyPEM []byte, err error) {
	if err := CheckName("client", name); err != nil {
		return nil, nil, err
	}
	return ca.issue(Identity{Cluster: ca.Cluster(), Role: RoleClient, Name: name}, nil, nil,
		[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, cfg)
}

func (ca *CA) issue(id Identity, dns []string, ips []net.IP, usage []x509.ExtKeyUsage, cfg Config) (certPEM, keyPEM []byte, err error) {
	defaulted := cfg.Days == 0
	cfg, err = cfg.withDefaults(DefaultLeafDays)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range dns {
		if d != "localhost" && !validDNS(d) {
			return nil, nil, fmt.Errorf("%w: DNS name %q", ErrInvalid, d)
		}
	}
	notAfter := cfg.Now.AddDate(0, 0, cfg.Days)
	if defaulted && notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter // the default ends with the CA
	}
	if notAfter.After(ca.Cert.NotAfter) {
		// A leaf outliving its CA would fail verification before its
		// own end: say so now rather than on that day.
		return nil, nil, fmt.Errorf("%w: %d days would outlive the CA, which expires %s", ErrInvalid, cfg.Days, ca.Cert.NotAfter.Format(time.DateOnly))
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: string(id.Role) + " " + id.Name, Organization: []string{"Ferry"}, OrganizationalUnit: []string{id.Cluster}},
		NotBefore:   cfg.Now.Add(-skew),
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: usage,
		URIs:        []*url.URL{id.URL()},
		DNSNames:    dns,
		IPAddresses: ips,
	}
	return sign(tmpl, ca.Cert, ca.Key)
}

// sign makes a new key and a certificate for it from tmpl (a random serial
// number is added), signed by parent's key, or self-signed when parent is
// nil, and returns both as PEM.
func sign(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: key: %w", err)
	}
	if tmpl.SerialNumber, err = serialNumber(rand.Reader); err != nil {
		return nil, nil, err
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: certificate: %w", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

var dnsPattern = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

func validDNS(s string) bool { return len(s) <= 253 && dnsPattern.MatchString(s) }

// Identify returns the identity a certificate names, which must be in the
// CA's trust domain. The certificate must already be verified against the
// CA (crypto/tls does that); Identify only reads it.
func Identify(cert *x509.Certificate, cluster string) (Identity, error) {
	if len(cert.URIs) != 1 {
		return Identity{}, fmt.Errorf("%w: the certificate names %d identities (URI SANs), want 1", ErrInvalid, len(cert.URIs))
	}
	u := cert.URIs[0]
	var id Identity
	id.Cluster = u.Host
	role, name, ok := cutPath(u.Path)
	if u.Scheme != "spiffe" || !ok || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Identity{}, fmt.Errorf("%w: %q is not a Ferry identity (spiffe://CLUSTER/node|client/NAME)", ErrInvalid, u)
	}
	id.Role, id.Name = Role(role), name
	if id.Role != RoleNode && id.Role != RoleClient {
		return Identity{}, fmt.Errorf("%w: %q: unknown role %q", ErrInvalid, u, role)
	}
	if CheckName("name", id.Name) != nil {
		return Identity{}, fmt.Errorf("%w: %q: bad name", ErrInvalid, u)
	}
	if id.Cluster != cluster {
		return Identity{}, fmt.Errorf("%w: the certificate is for cluster %q, not %q", ErrInvalid, id.Cluster, cluster)
	}
	// Only the canonical spelling: an identity is compared as a string
	// elsewhere (logs, the audit trail), so "…/n1?" or a port must not
	// pass for …/n1.
	if id.URL().String() != u.String() {
		return Identity{}, fmt.Errorf("%w: %q is not written as a Ferry identity is (%s)", ErrInvalid, u, id.URL())
	}
	return id, nil
}

func cutPath(p string) (role, name string, ok bool) {
	if len(p) < 2 || p[0] != '/' {
		return "", "", false
	}
	rest := p[1:]
	for i := range len(rest) {
		if rest[i] == '/' {
			return rest[:i], rest[i+1:], rest[i+1:] != ""
		}
	}
	return "", "", false
}

// ParseCerts reads every PEM certificate of a bundle, in order (other PEM
// blocks are skipped); it needs at least one. A CA file that holds two
// CAs lets a cluster roll over to a new CA: trust both, reissue, drop the
// old one.
func ParseCerts(bundle []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, bundle = pem.Decode(bundle); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrInvalid, len(out)+1, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: not a PEM CERTIFICATE", ErrInvalid)
	}
	return out, nil
}

// ParseCert reads one PEM certificate.
func ParseCert(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: not a PEM CERTIFICATE", ErrInvalid)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return cert, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// serialNumber is a random 128-bit serial, as RFC 5280 allows up to 20
// bytes and CAs use to make serials unpredictable.
func serialNumber(r io.Reader) (*big.Int, error) {
	n, err := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// WriteNew writes data to a new file with mode 0600; a file already there
// is never replaced (os.ErrExist).
func WriteNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// The file layout of a directory of a cluster's PKI, as `ferry tls`
// writes it and internal/localcluster keeps it: the CA, then a
// certificate and key per node and client.
const (
	CACertFile = "ferry-ca.pem"
	CAKeyFile  = "ferry-ca-key.pem"
)

// CertFiles are the names of the certificate and key files of role's
// name in that layout: node-n1.pem and node-n1-key.pem.
func CertFiles(role Role, name string) (cert, key string) {
	base := string(role) + "-" + name
	return base + ".pem", base + "-key.pem"
}
