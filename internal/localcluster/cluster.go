package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/ferry-san/ferry/security/mtls"
	"github.com/ferry-san/ferry/security/pki"
)

// ErrUnknownNode is returned for a name the cluster has never started.
var ErrUnknownNode = errors.New("localcluster: unknown node")

// killWait bounds how long a SIGKILLed process may take to be reaped.
const killWait = 10 * time.Second

// Cluster is a set of agent processes sharing one Dir. It is safe for
// concurrent use. Close kills everything it started.
type Cluster struct {
	cfg Config

	mu     sync.Mutex
	nodes  map[string]*Node
	order  []string // start order, for stable iteration
	conns  map[string]*grpc.ClientConn
	closed bool
	// aclToken is the management token (Config.ACL), once bootstrapped.
	aclToken string

	pkiMu   sync.Mutex
	caCache *pki.CA     // a secure cluster's CA, once made
	client  *mtls.Store // the harness's client certificate, once loaded
}

// New prepares a cluster in cfg.Dir; it starts nothing.
func New(cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.Binary); err != nil {
		return nil, fmt.Errorf("localcluster: binary: %w", err)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("localcluster: dir: %w", err)
	}
	return &Cluster{cfg: cfg, nodes: map[string]*Node{}, conns: map[string]*grpc.ClientConn{}}, nil
}

// StartOptions start a node in ways Start does not: under another node's
// -node name, or with extra flags.
type StartOptions struct {
	// Name is the harness's key for the node; required and unique.
	Name string
	// NodeName is the -node flag. Default: Name.
	NodeName string
	// Join names nodes of this cluster whose gossip addresses go to -join.
	Join []string
	// ExtraArgs are appended after Config.ExtraArgs.
	ExtraArgs []string
	// Netns runs the agent in that existing network namespace with `ip
	// netns exec` (Linux, as root), bound to Host, which is then required.
	// The harness's clients reach it from inside that namespace.
	Netns string
	// Host is the address the agent binds to and advertises. Default
	// 127.0.0.1.
	Host string
}

// Start launches a new node called name. With no join it bootstraps a new
// cluster; otherwise it joins through the named nodes' gossip ports. It
// returns once the process runs, not when it is ready: see WaitReady.
func (c *Cluster) Start(ctx context.Context, name string, join ...string) (*Node, error) {
	return c.StartNode(ctx, StartOptions{Name: name, Join: join})
}

// StartNode launches a new node as opts describe.
func (c *Cluster) StartNode(ctx context.Context, opts StartOptions) (*Node, error) {
	return c.StartNodeFunc(ctx, opts, func(Ports) ([]string, error) { return nil, nil })
}

func (c *Cluster) reservedPortsLocked() map[int]bool {
	used := map[int]bool{}
	for _, n := range c.nodes {
		used[n.Ports.GRPC] = true
		used[n.Ports.Gossip] = true
		used[n.Ports.HTTP] = true
		used[n.Ports.ISCSI] = true
		used[n.Ports.NDMP] = true
	}
	return used
}

func (c *Cluster) gossipAddrsLocked(names []string) ([]string, error) {
	var addrs []string
	for _, name := range names {
		n, ok := c.nodes[name]
		if !ok {
			return nil, fmt.Errorf("join %q: %w", name, ErrUnknownNode)
		}
		addrs = append(addrs, n.GossipAddr())
	}
	return addrs, nil
}

// Args is the agent command line for n joining through joinAddrs.
func (c *Cluster) args(n *Node, joinAddrs []string, extra []string) []string {
	args := []string{"agent",
		"-node", n.NodeName,
		"-data-dir", n.DataDir,
		"-bind", n.Host,
		"-grpc-port", strconv.Itoa(n.Ports.GRPC),
		"-gossip-port", strconv.Itoa(n.Ports.Gossip),
		"-http-port", strconv.Itoa(n.Ports.HTTP),
		"-iscsi-port", strconv.Itoa(n.Ports.ISCSI),
		"-ndmp-port", strconv.Itoa(n.Ports.NDMP),
		"-site", c.cfg.Site,
		"-cluster-name", c.cfg.ClusterName,
		"-log-level", c.cfg.LogLevel,
	}
	if len(joinAddrs) > 0 {
		args = append(args, "-join", strings.Join(joinAddrs, ","))
	}
	if c.cfg.Voters > 0 {
		args = append(args, "-voters", strconv.Itoa(c.cfg.Voters))
	}
	if c.cfg.SnapshotEntries > 0 {
		args = append(args, "-snapshot-entries", strconv.Itoa(c.cfg.SnapshotEntries))
	}
	args = append(args, c.cfg.ExtraArgs...)
	return append(args, extra...)
}

func (c *Cluster) launch(n *Node, joinAddrs []string, extra []string) error {
	binary, args := c.cfg.Binary, c.args(n, joinAddrs, extra)
	tls, err := c.tlsArgs(n.NodeName, args)
	if err != nil {
		return err
	}
	args = append(args, tls...)
	if n.Netns != "" {
		// ip execs the agent in place: signals reach it, not a wrapper.
		binary, args = "ip", append([]string{"netns", "exec", n.Netns, binary}, args...)
	}
	p, err := startProcess(binary, args, n.LogPath)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
	c.cfg.Logger.Info("started node", "node", n.Name, "pid", p.cmd.Process.Pid,
		"grpc", n.GRPCAddr(), "gossip", n.GossipAddr(), "http", n.HTTPAddr(), "join", joinAddrs)
	return nil
}

// DataDir is the data dir that the node of that name has, or will have when
// started: tests plant files there before starting a node.
func (c *Cluster) DataDir(name string) string { return filepath.Join(c.cfg.Dir, name) }

// Node returns the named node.
func (c *Cluster) Node(name string) (*Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return nil, fmt.Errorf("%q: %w", name, ErrUnknownNode)
	}
	return n, nil
}

// Names lists every node started so far, in start order.
func (c *Cluster) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

// Running lists the nodes whose process runs, in start order.
func (c *Cluster) Running() []string {
	var names []string
	for _, name := range c.Names() {
		if n, err := c.Node(name); err == nil && n.Running() {
			names = append(names, name)
		}
	}
	return names
}

// Kill sends SIGKILL to the node and waits until the process is gone.
func (c *Cluster) Kill(name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	p := n.current()
	if p == nil || p.exited() {
		return nil
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(killWait):
		return fmt.Errorf("localcluster: %s (pid %d) still alive %s after SIGKILL", name, p.cmd.Process.Pid, killWait)
	}
	c.cfg.Logger.Info("killed node", "node", name, "pid", p.cmd.Process.Pid)
	return nil
}

// Signal sends sig to the node's process if it runs: SIGHUP makes an
// agent reload its TLS certificates.
func (c *Cluster) Signal(name string, sig os.Signal) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if p := n.current(); p != nil {
		return p.signal(sig)
	}
	return nil
}

// Stop sends SIGTERM and waits for the process to exit. If ctx ends first
// the node is killed and Stop returns an error saying so.
func (c *Cluster) Stop(ctx context.Context, name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	p := n.current()
	if p == nil {
		return nil
	}
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		c.cfg.Logger.Info("stopped node", "node", name, "exit", exitText(p.err))
		return nil
	case <-ctx.Done():
		killErr := c.Kill(name)
		return errors.Join(fmt.Errorf("localcluster: %s did not stop after SIGTERM: %w", name, ctx.Err()), killErr)
	}
}

// Restart starts the node again with the same name, ports and data dir,
// stopping it first (gracefully) if it runs. It joins through every other
// running node so that gossip finds the cluster again.
func (c *Cluster) Restart(ctx context.Context, name string) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	if n.Running() {
		if err := c.Stop(ctx, name); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var join []string
	for _, other := range c.Running() {
		if other != name {
			join = append(join, other)
		}
	}
	c.mu.Lock()
	joinAddrs, err := c.gossipAddrsLocked(join)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.launch(n, joinAddrs, nil)
}

// Close kills every node and closes every client connection. It is safe to
// call more than once.
func (c *Cluster) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = map[string]*grpc.ClientConn{}
	c.mu.Unlock()
	var errs []error
	for _, name := range c.Names() {
		errs = append(errs, c.Kill(name))
	}
	for _, conn := range conns {
		errs = append(errs, conn.Close())
	}
	return errors.Join(errs...)
}
