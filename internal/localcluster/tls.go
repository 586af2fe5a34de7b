package localcluster

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ferry-san/ferry/security/mtls"
	"github.com/ferry-san/ferry/security/pki"
)

// The files of a secure cluster are in Dir/pki, laid out as `ferry tls`
// writes them (pki.CACertFile, pki.CertFiles), and the gossip key in
// gossip.key: files put there before a node starts (the demo makes them
// with the ferry commands) are used, missing ones are made.
const pkiDir = "pki"

// PKIDir is the directory of the cluster's CA, certificates and gossip key.
func (c *Cluster) PKIDir() string { return filepath.Join(c.cfg.Dir, pkiDir) }

// harnessClient is the client certificate the harness's own connections
// (Conn, Client) present.
const harnessClient = "localcluster"

// CA returns the cluster's CA (secure clusters), made on first use: tests
// sign certificates of their own with it.
func (c *Cluster) CA() (*pki.CA, error) {
	c.pkiMu.Lock()
	defer c.pkiMu.Unlock()
	if c.caCache != nil {
		return c.caCache, nil
	}
	dir := c.PKIDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localcluster: %w", err)
	}
	certPath, keyPath := filepath.Join(dir, pki.CACertFile), filepath.Join(dir, pki.CAKeyFile)
	if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
		certPEM, keyPEM, err := pki.NewCA(c.cfg.ClusterName, pki.Config{})
		if err != nil {
			return nil, fmt.Errorf("localcluster: CA: %w", err)
		}
		if err := errors.Join(pki.WriteNew(keyPath, keyPEM), pki.WriteNew(certPath, certPEM)); err != nil {
			return nil, fmt.Errorf("localcluster: CA: %w", err)
		}
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("localcluster: CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("localcluster: CA: %w", err)
	}
	ca, err := pki.LoadCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("localcluster: CA: %w", err)
	}
	c.caCache = ca
	return ca, nil
}

// TLSFiles are the CA, certificate and key files of a node or client of a
// secure cluster, issued on first use (a restarted node keeps its own).
func (c *Cluster) TLSFiles(role pki.Role, name string) (mtls.Files, error) {
	ca, err := c.CA()
	if err != nil {
		return mtls.Files{}, err
	}
	dir := c.PKIDir()
	certFile, keyFile := pki.CertFiles(role, name)
	f := mtls.Files{CA: filepath.Join(dir, pki.CACertFile), Cert: filepath.Join(dir, certFile), Key: filepath.Join(dir, keyFile)}
	if _, err := os.Stat(f.Cert); err == nil {
		return f, nil
	}
	var certPEM, keyPEM []byte
	if role == pki.RoleNode {
		certPEM, keyPEM, err = ca.IssueNode(pki.NodeConfig{Name: name}, pki.Config{})
	} else {
		certPEM, keyPEM, err = ca.IssueClient(name, pki.Config{})
	}
	if err != nil {
		return f, fmt.Errorf("localcluster: certificate of %s %s: %w", role, name, err)
	}
	if err := errors.Join(pki.WriteNew(f.Key, keyPEM), pki.WriteNew(f.Cert, certPEM)); err != nil {
		return f, fmt.Errorf("localcluster: certificate of %s %s: %w", role, name, err)
	}
	return f, nil
}

// tlsArgs are the agent flags of node nodeName: its certificate and the
// gossip key on a secure cluster, -insecure otherwise (the agent refuses plaintext unless told).
func (c *Cluster) tlsArgs(nodeName string, args []string) ([]string, error) {
	for _, a := range args {
		if a == "-tls-ca" || a == "-insecure" {
			return nil, nil // the test chose
		}
	}
	if c.cfg.Insecure {
		return []string{"-insecure"}, nil
	}
	f, err := c.TLSFiles(pki.RoleNode, nodeName)
	if err != nil {
		return nil, err
	}
	key, err := c.GossipKey()
	if err != nil {
		return nil, err
	}
	return []string{"-tls-ca", f.CA, "-tls-cert", f.Cert, "-tls-key", f.Key, "-gossip-key", key}, nil
}

// GossipKey is a secure cluster's gossip encryption key (base64), made on
// first use and kept in Dir/pki/gossip.key.
func (c *Cluster) GossipKey() (string, error) {
	if _, err := c.CA(); err != nil { // makes the directory
		return "", err
	}
	path := filepath.Join(c.PKIDir(), "gossip.key")
	c.pkiMu.Lock()
	defer c.pkiMu.Unlock()
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil // as ferry keygen prints it
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	key := base64.StdEncoding.EncodeToString(k)
	if err := pki.WriteNew(path, []byte(key)); err != nil {
		return "", fmt.Errorf("localcluster: gossip key: %w", err)
	}
	return key, nil
}

// clientCredentials secure the harness's own connections, all with one
// Store (ReloadTLS re-reads it).
func (c *Cluster) clientCredentials() (credentials.TransportCredentials, error) {
	if c.cfg.Insecure {
		return insecure.NewCredentials(), nil
	}
	s, err := c.clientStore()
	if err != nil {
		return nil, err
	}
	return s.NodeCredentials(""), nil
}

func (c *Cluster) clientStore() (*mtls.Store, error) {
	f, err := c.TLSFiles(pki.RoleClient, harnessClient)
	if err != nil {
		return nil, err
	}
	c.pkiMu.Lock()
	defer c.pkiMu.Unlock()
	if c.client == nil {
		if c.client, err = mtls.Load(mtls.Config{Files: f, Cluster: c.cfg.ClusterName}); err != nil {
			return nil, err
		}
	}
	return c.client, nil
}

// ReloadTLS re-reads the CA and the harness's client certificate after a
// test replaced them (a rotation): the harness's connections made from
// then on present the new certificate and trust the new CA.
func (c *Cluster) ReloadTLS() error {
	if c.cfg.Insecure {
		return nil
	}
	s, err := c.clientStore()
	if err != nil {
		return err
	}
	return s.Reload()
}

// ClientEnv is the environment that gives the ferry CLI the harness's
// client certificate on a secure cluster (FERRY_CACERT, FERRY_CERT,
// FERRY_KEY) and its ACL token once set (FERRY_TOKEN).
func (c *Cluster) ClientEnv() ([]string, error) {
	var env []string
	if !c.cfg.Insecure {
		f, err := c.TLSFiles(pki.RoleClient, harnessClient)
		if err != nil {
			return nil, err
		}
		env = []string{"FERRY_CACERT=" + f.CA, "FERRY_CERT=" + f.Cert, "FERRY_KEY=" + f.Key}
	}
	if tok := c.ACLToken(); tok != "" {
		env = append(env, "FERRY_TOKEN="+tok)
	}
	return env, nil
}

// Secure reports whether the cluster's nodes serve mutual TLS (unless a
// node's own flags said otherwise).
func (c *Cluster) Secure() bool { return !c.cfg.Insecure }
