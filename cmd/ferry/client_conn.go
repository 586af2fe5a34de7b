package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// client is a parsed client command's connection and output settings.
type client struct {
	conn    *grpc.ClientConn
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
	b := defaultBackoff()
	// Plaintext: the cluster's gRPC API has no TLS yet (see printUsage).
	conn, err := grpc.NewClient(f.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(retryUnavailable(b)),
	)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-addr %q: %v", f.addr, err)}
	}
	return &client{
		conn:    conn,
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
// restarting or unreachable — until the call's context ends. Retrying is
// safe for Ferry's unary RPCs: reads have no effect, Cancel is idempotent,
// and Submit carries an idempotency key (see jobSubmitCommand).
func retryUnavailable(b backoff) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		for attempt := 0; ; attempt++ {
			err := invoker(ctx, method, req, reply, cc, opts...)
			if !isUnavailable(err) {
				return err
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
