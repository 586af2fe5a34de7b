package pki

import (
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
)

// FuzzIdentify: whatever URI a certificate carries, Identify never panics,
// refuses with ErrInvalid, or returns an identity of the asked cluster whose
// own URL is exactly the one the certificate names (nothing dropped on the
// way: no user, query, fragment or extra path).
func FuzzIdentify(f *testing.F) {
	for _, s := range []string{"spiffe://ferry/node/n1", "spiffe://ferry/client/ops", "spiffe://ferry//node/n1",
		"spiffe://u@ferry/node/n1", "spiffe://ferry/node/n1/x", "spiffe://ferry/node/n%2F1", "spiffe://ferry:1/node/n1",
		"SPIFFE://ferry/node/n1", "spiffe:ferry/node/n1", "spiffe://ferry/node/n1?", "spiffe://ferry/node/n1#"} {
		f.Add(s, "ferry")
	}
	f.Fuzz(func(t *testing.T, uri, cluster string) {
		u, err := url.Parse(uri)
		if err != nil {
			return
		}
		cert := x509CertWithURI{u}.cert()
		id, err := Identify(&cert, cluster)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Identify(%q): %v does not wrap ErrInvalid", uri, err)
			}
			return
		}
		if id.Cluster != cluster || (id.Role != RoleNode && id.Role != RoleClient) || CheckName("name", id.Name) != nil {
			t.Fatalf("Identify(%q, %q) accepted %+v", uri, cluster, id)
		}
		if got := id.URL().String(); got != u.String() {
			t.Fatalf("Identify(%q) = %s: not the URI the certificate names", uri, got)
		}
	})
}

// x509CertWithURI is a certificate naming one URI, for Identify.
type x509CertWithURI struct{ u *url.URL }

func (c x509CertWithURI) cert() x509.Certificate { return x509.Certificate{URIs: []*url.URL{c.u}} }
