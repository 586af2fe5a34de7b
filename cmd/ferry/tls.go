package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-san/ferry/security/pki"
)

// runTLS is "ferry tls ca create" and "ferry tls cert create": they make a
// cluster's CA and its certificates as local files, talking to no node.
func runTLS(_ context.Context, args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) >= 2 && args[0] == "ca" && args[1] == "create":
		return runTLSCACreate(args[2:], stdout, stderr)
	case len(args) >= 2 && args[0] == "cert" && args[1] == "create":
		return runTLSCertCreate(args[2:], stdout, stderr)
	}
	fmt.Fprint(stderr, `Usage:
  ferry tls ca create [-cluster NAME] [-days N] [-dir DIR]
      a dedicated CA for the cluster: DIR/ferry-ca.pem and DIR/ferry-ca-key.pem
  ferry tls cert create -node NAME [-dns NAME,...] [-ip ADDR,...] [-days N] [-dir DIR]
      a node certificate signed by the CA: DIR/node-NAME.pem and DIR/node-NAME-key.pem
  ferry tls cert create -client NAME [-days N] [-dir DIR]
      a client certificate: DIR/client-NAME.pem and DIR/client-NAME-key.pem
Files are written with mode 0600; an existing file is never replaced.
`)
	if len(args) == 1 && isHelpFlag(args[0]) || len(args) == 0 {
		return exitUsage
	}
	fmt.Fprintf(stderr, "ferry tls: unknown command %q\n", strings.Join(args, " "))
	return exitUsage
}

func tlsFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func runTLSCACreate(args []string, stdout, stderr io.Writer) int {
	fs := tlsFlagSet("ferry tls ca create", stderr)
	cluster := fs.String("cluster", "ferry", "the cluster's name (the agents' -cluster-name): the trust domain of every identity the CA signs")
	days := fs.Int("days", pki.DefaultCADays, "days the CA is valid")
	dir := fs.String("dir", ".", "directory to write the CA's files in")
	if err := fs.Parse(args); err != nil {
		return usageCode(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ferry tls ca create: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	certPEM, keyPEM, err := pki.NewCA(*cluster, pki.Config{Days: *days})
	if err != nil {
		fmt.Fprintf(stderr, "ferry tls ca create: %v\n", err)
		return exitUsage
	}
	return writePair(stdout, stderr, "ferry tls ca create", filepath.Join(*dir, pki.CACertFile), certPEM, filepath.Join(*dir, pki.CAKeyFile), keyPEM)
}

func runTLSCertCreate(args []string, stdout, stderr io.Writer) int {
	const cmd = "ferry tls cert create"
	fs := tlsFlagSet(cmd, stderr)
	node := fs.String("node", "", "make a node certificate for the node of this name (its -node)")
	client := fs.String("client", "", "make a client certificate for this name (a person or a backup application)")
	dns := fs.String("dns", "", "comma-separated DNS names the node is reached at, besides localhost")
	ips := fs.String("ip", "", "comma-separated IP addresses the node is reached at, besides 127.0.0.1")
	days := fs.Int("days", 0, fmt.Sprintf("days the certificate is valid (default %d, or until the CA expires if sooner)", pki.DefaultLeafDays))
	dir := fs.String("dir", ".", "directory holding ferry-ca.pem and ferry-ca-key.pem, where the certificate is written")
	caCert := fs.String("ca", "", "the CA certificate (default DIR/ferry-ca.pem)")
	caKey := fs.String("ca-key", "", "the CA key (default DIR/ferry-ca-key.pem)")
	if err := fs.Parse(args); err != nil {
		return usageCode(err)
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, cmd+": "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case (*node == "") == (*client == ""):
		return bad("give exactly one of -node NAME and -client NAME")
	case *client != "" && (*dns != "" || *ips != ""):
		return bad("-dns and -ip are for node certificates")
	}
	var addrs []net.IP
	for _, s := range splitList(*ips) {
		ip := net.ParseIP(s)
		if ip == nil {
			return bad("-ip %q: not an IP address", s)
		}
		addrs = append(addrs, ip)
	}
	certPath, keyPath := *caCert, *caKey
	if certPath == "" {
		certPath = filepath.Join(*dir, pki.CACertFile)
	}
	if keyPath == "" {
		keyPath = filepath.Join(*dir, pki.CAKeyFile)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return bad("the CA certificate: %v (make one with \"ferry tls ca create\")", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return bad("the CA key: %v", err)
	}
	ca, err := pki.LoadCA(certPEM, keyPEM)
	if err != nil {
		return bad("%s: %v", certPath, err)
	}
	var (
		leaf, key []byte
		certFile  string
		keyFile   string
	)
	if *node != "" {
		certFile, keyFile = pki.CertFiles(pki.RoleNode, *node)
		leaf, key, err = ca.IssueNode(pki.NodeConfig{Name: *node, DNS: splitList(*dns), IPs: addrs}, pki.Config{Days: *days})
	} else {
		certFile, keyFile = pki.CertFiles(pki.RoleClient, *client)
		leaf, key, err = ca.IssueClient(*client, pki.Config{Days: *days})
	}
	if err != nil {
		return bad("%v", err)
	}
	return writePair(stdout, stderr, cmd, filepath.Join(*dir, certFile), leaf, filepath.Join(*dir, keyFile), key)
}

// writePair writes a certificate and its key as new 0600 files, neither
// or both: when one exists, nothing is written.
func writePair(stdout, stderr io.Writer, cmd, certPath string, certPEM []byte, keyPath string, keyPEM []byte) int {
	for _, p := range []string{certPath, keyPath} {
		if _, err := os.Lstat(p); err == nil {
			fmt.Fprintf(stderr, "%s: %s exists: not replacing it\n", cmd, p)
			return exitFailure
		}
	}
	if err := pki.WriteNew(keyPath, keyPEM); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return exitFailure
	}
	if err := pki.WriteNew(certPath, certPEM); err != nil {
		os.Remove(keyPath)
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "wrote %s\nwrote %s\n", certPath, keyPath)
	return exitOK
}

// usageCode is the exit status of a flag parse error: 0 for -h.
func usageCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
