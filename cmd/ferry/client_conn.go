package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
	"github.com/ferry-san/ferry/security/mtls"
)

// defaultGRPCPort is the agent's default -grpc-port, used when -addr names
// only a host.
const defaultGRPCPort = "7101"

// client is a parsed client command's connection and output settings.
type client struct {
	addr    string // as the user gave it, with the default port added
	conn    *grpc.ClientConn
	probe   *connProbe
	jobs    ferryv1.JobServiceClient
	cluster ferryv1.ClusterServiceClient
	format  string // "table" or "json"
	timeout time.Duration
	backoff backoff
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
}

func newClient(f commonFlags, env cliEnv) (*client, error) {
	if f.output != "table" && f.output != "json" {
		return nil, usageError{fmt.Sprintf("-o %q: want table or json", f.output)}
	}
	if f.timeout <= 0 {
		return nil, usageError{fmt.Sprintf("-timeout %s: must be positive", f.timeout)}
	}
	addr, err := withDefaultPort(f.addr)
	if err != nil {
		return nil, err
	}
	creds, err := clientCredentials(f, env)
	if err != nil {
		return nil, err
	}
	b := defaultBackoff()
	probe := &connProbe{addr: addr, tls: creds.Info().SecurityProtocol == "tls"}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(probe.dial),
		grpc.WithUnaryInterceptor(retryUnavailable(b, probe)),
	}
	if f.token != "" {
		if _, err := acl.ParseToken(f.token); err != nil {
			return nil, usageError{fmt.Sprintf("-token (or FERRY_TOKEN): %v", err)}
		}
		opts = append(opts, grpc.WithPerRPCCredentials(tokenCredentials(f.token)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-addr %q: %v", f.addr, err)}
	}
	return &client{
		addr:    addr,
		conn:    conn,
		probe:   probe,
		jobs:    ferryv1.NewJobServiceClient(conn),
		cluster: ferryv1.NewClusterServiceClient(conn),
		format:  f.output,
		timeout: f.timeout,
		backoff: b,
		stdin:   env.stdin,
		stdout:  env.stdout,
		stderr:  env.stderr,
	}, nil
}

func (c *client) close() { c.conn.Close() }

// rpcContext bounds one RPC, retries included, by -timeout.
func (c *client) rpcContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// withDefaultPort adds the agent's default gRPC port to an -addr that names
// only a host ("db-node", "10.0.0.1", "::1", "[::1]"). Targets with a gRPC
// scheme ("dns:///host:port") are left to gRPC.
func withDefaultPort(addr string) (string, error) {
	a := strings.TrimSpace(addr)
	switch {
	case a == "":
		return "", usageError{"-addr is empty: want HOST[:PORT] of any node"}
	case strings.Contains(a, "://"):
		return a, nil
	case strings.HasPrefix(a, "[") && strings.HasSuffix(a, "]"):
		return a + ":" + defaultGRPCPort, nil
	case net.ParseIP(a) != nil:
		return net.JoinHostPort(a, defaultGRPCPort), nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return net.JoinHostPort(a, defaultGRPCPort), nil
		}
		return "", usageError{fmt.Sprintf("-addr %q: want HOST[:PORT]: %v", addr, err)}
	}
	if host == "" || port == "" {
		return "", usageError{fmt.Sprintf("-addr %q: want HOST[:PORT]", addr)}
	}
	return a, nil
}

// connProbe watches the client's connections to tell apart the reasons a
// call fails with Unavailable: gRPC says the same for "nothing listens
// there", "something that is not a Ferry agent answers" and "the agent is up
// but the cluster has no leader", and only the last is worth waiting for.
type connProbe struct {
	addr string

	mu sync.Mutex
	// dialErr is the last dial's error, nil once a dial succeeds.
	dialErr error
	// peer is what the last connection's far end sent instead of an HTTP/2
	// server preface: "HTTP", "other", or "nothing" when it closed the
	// connection without a byte; empty while nothing says so.
	peer string
	// tls: the client speaks TLS (-ca, -cert, -key).
	tls bool
}

func (p *connProbe) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	p.mu.Lock()
	p.dialErr = err
	p.peer = ""
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: conn, probe: p}, nil
}

// sniffConn looks at the first bytes a server sends: a gRPC server starts
// with an HTTP/2 SETTINGS frame (byte 3, the frame type, is 4); an HTTP/1
// server answers the client's preface with "HTTP/1.1 400 ...".
type sniffConn struct {
	net.Conn
	probe *connProbe
	head  []byte
	done  bool
}

func (c *sniffConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if !c.done && n == 0 && len(c.head) == 0 && errors.Is(err, io.EOF) {
		// Closed without a word: what a TLS server does to a plaintext
		// client's HTTP/2 preface.
		c.done = true
		c.probe.mu.Lock()
		c.probe.peer = "nothing"
		c.probe.mu.Unlock()
	}
	if !c.done && n > 0 {
		c.head = append(c.head, b[:min(n, 4-len(c.head))]...)
		if len(c.head) == 4 {
			c.done = true
			var peer string
			switch {
			case string(c.head) == "HTTP":
				peer = "HTTP"
			case c.head[3] != 4:
				peer = "other"
			}
			if peer != "" {
				c.probe.mu.Lock()
				c.probe.peer = peer
				c.probe.mu.Unlock()
			}
		}
	}
	return n, err
}

// unreachableError says that no Ferry agent answers at the address, and
// what to do about it. It is final: retrying cannot help.
type unreachableError struct{ msg string }

func (e *unreachableError) Error() string { return e.msg }

// explain turns an Unavailable error that retrying cannot cure into an
// unreachableError; other errors, among them a leaderless cluster's
// Unavailable, are returned as they are.
func (p *connProbe) explain(err error) error {
	if !isUnavailable(err) {
		return err
	}
	p.mu.Lock()
	dialErr, peer := p.dialErr, p.peer
	p.mu.Unlock()
	switch {
	case peer == "nothing" && !p.tls:
		return &unreachableError{fmt.Sprintf("%s closed the connection without answering: its agent serves mutual TLS; give -ca, -cert and -key (a client certificate from 'ferry tls cert create -client NAME')", p.addr)}
	case p.tls && strings.Contains(status.Convert(err).Message(), "first record does not look like a TLS handshake"):
		return &unreachableError{fmt.Sprintf("%s serves plaintext gRPC (its agent runs -insecure or -dev), not TLS: leave out -ca, -cert and -key", p.addr)}
	case peer == "HTTP":
		return &unreachableError{fmt.Sprintf("%s answers HTTP: that is the agent's -http-port; use its -grpc-port (default %s)", p.addr, defaultGRPCPort)}
	case peer != "":
		return &unreachableError{fmt.Sprintf("%s does not answer gRPC: it is not a Ferry agent's -grpc-port (default %s)", p.addr, defaultGRPCPort)}
	}
	if why := nothingListens(dialErr); why != "" {
		return &unreachableError{fmt.Sprintf("no Ferry agent at %s (%s): start one with 'ferry agent -dev' or set -addr/FERRY_ADDR", p.addr, why)}
	}
	return err
}

// nothingListens names a dial error that means no agent can be at the
// address now, or returns "" for errors that may pass (timeouts).
func nothingListens(err error) string {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network is unreachable"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "no such host"
	}
	return ""
}

// backoff spaces out retries: exponential from min to max, with jitter so
// that many clients retrying through an election do not hit in lockstep.
type backoff struct {
	min, max time.Duration
}

func defaultBackoff() backoff { return backoff{min: 50 * time.Millisecond, max: time.Second} }

// delay returns how long to wait before retry number attempt (from 0).
func (b backoff) delay(attempt int) time.Duration {
	d := b.min
	for i := 0; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx ends, reporting whether the full wait
// happened.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryUnavailable repeats unary calls that fail with codes.Unavailable —
// what a node answers while the cluster elects a leader or while it is
// restarting — until the call's context ends, unless probe shows that no
// agent is there at all. Retrying is safe for Ferry's unary RPCs: reads
// have no effect, Cancel is idempotent, and Submit carries an idempotency
// key (see jobSubmitCommand).
func retryUnavailable(b backoff, probe *connProbe) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		var unavailable error
		for attempt := 0; ; attempt++ {
			err := invoker(ctx, method, req, reply, cc, opts...)
			if !isUnavailable(err) {
				if unavailable != nil && ctx.Err() != nil {
					// The time ran out during a retry: why it was retried
					// says more than "deadline exceeded".
					return gaveUp(unavailable, attempt, time.Since(start))
				}
				return err
			}
			unavailable = err
			if final := probe.explain(err); final != err {
				return final
			}
			if !sleep(ctx, b.delay(attempt)) {
				return gaveUp(err, attempt+1, time.Since(start))
			}
		}
	}
}

// gaveUp adds the retry count to an Unavailable status, keeping its code and
// details so the error is still reported as a gRPC status.
func gaveUp(err error, attempts int, elapsed time.Duration) error {
	p := status.Convert(err).Proto()
	p.Message = fmt.Sprintf("%s (gave up after %d attempts in %s)", p.GetMessage(), attempts, elapsed.Round(time.Millisecond))
	return status.FromProto(p).Err()
}

// clientCredentials are mutual TLS with the -ca, -cert and -key files, or
// plaintext without them (for a cluster whose agents run -insecure).
func clientCredentials(f commonFlags, env cliEnv) (credentials.TransportCredentials, error) {
	if f.ca == "" {
		// Consul's name for it, which administrators already export.
		f.ca, _ = env.lookupEnv("FERRY_CACERT")
	}
	switch {
	case f.ca == "" && f.cert == "" && f.key == "":
		return insecure.NewCredentials(), nil
	case f.ca == "" || f.cert == "" || f.key == "":
		return nil, usageError{"-ca, -cert and -key go together (the cluster CA, this client's certificate and its key)"}
	}
	store, err := mtls.Load(mtls.Config{Files: mtls.Files{CA: f.ca, Cert: f.cert, Key: f.key}})
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return store.NodeCredentials(""), nil
}

// tokenCredentials send an ACL token with every call. They do not require
// TLS: a plaintext cluster (-insecure) checks tokens too, and its README
// warning covers what travels in clear.
type tokenCredentials string

func (t tokenCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{acl.AuthorizationHeader: acl.BearerValue(string(t))}, nil
}

func (tokenCredentials) RequireTransportSecurity() bool { return false }
