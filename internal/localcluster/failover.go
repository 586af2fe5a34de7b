package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// StartNodeFunc launches a new node as StartNode does, with more flags made
// from the ports chosen for it: a test that stands a proxy in front of the
// node's gRPC and gossip ports starts the proxies there (forwarding to the
// node's ports) and returns -advertise-grpc-port and -advertise-gossip-port
// flags naming the proxies'. The ports are free but no longer held when
// extra runs, so a proxy listening on a port of its own must not take one of
// them. extra runs with the cluster locked and must not call it. An error
// from extra starts nothing.
func (c *Cluster) StartNodeFunc(ctx context.Context, opts StartOptions, extra func(Ports) ([]string, error)) (*Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		return nil, errors.New("localcluster: node name is required")
	}
	if opts.NodeName == "" {
		opts.NodeName = opts.Name
	}
	if opts.Netns != "" && opts.Host == "" {
		return nil, fmt.Errorf("localcluster: node %s runs in network namespace %s: its Host is required", opts.Name, opts.Netns)
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("localcluster: cluster is closed")
	}
	if _, ok := c.nodes[opts.Name]; ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("localcluster: node %q already exists", opts.Name)
	}
	ports, err := freePorts(c.reservedPortsLocked())
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	joinAddrs, err := c.gossipAddrsLocked(opts.Join)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	more, err := extra(ports)
	if err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("localcluster: flags for %s: %w", opts.Name, err)
	}
	n := &Node{
		Name:     opts.Name,
		NodeName: opts.NodeName,
		Ports:    ports,
		Host:     opts.Host,
		Netns:    opts.Netns,
		DataDir:  c.DataDir(opts.Name),
		LogPath:  filepath.Join(c.cfg.Dir, opts.Name+".log"),
	}
	c.nodes[n.Name] = n
	c.order = append(c.order, n.Name)
	c.mu.Unlock()

	if err := os.MkdirAll(n.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("localcluster: data dir: %w", err)
	}
	return n, c.launch(n, joinAddrs, append(append([]string(nil), opts.ExtraArgs...), more...))
}

// Pause freezes the node's process with SIGSTOP: it keeps its sockets, locks
// and state but runs no code until Resume, as a long GC pause, a stalled VM
// or a hung disk would leave it.
func (c *Cluster) Pause(name string) error { return c.signal(name, syscall.SIGSTOP) }

// Resume lets a paused node run again (SIGCONT).
func (c *Cluster) Resume(name string) error { return c.signal(name, syscall.SIGCONT) }

func (c *Cluster) signal(name string, sig os.Signal) error {
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	p := n.current()
	if p == nil || p.exited() {
		return fmt.Errorf("localcluster: %s: %w", name, ErrExited)
	}
	if err := p.signal(sig); err != nil {
		return err
	}
	c.cfg.Logger.Info("signalled node", "node", name, "pid", p.cmd.Process.Pid, "signal", sig)
	return nil
}
