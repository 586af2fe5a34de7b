package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Node is one agent of a local cluster: its fixed addresses and data dir,
// and the process currently running it, if any. Ports and data dir survive
// restarts, as they would on a real host.
type Node struct {
	// Name is the key the harness knows the node by.
	Name string
	// NodeName is the -node flag; it equals Name unless a test starts an
	// impostor under another node's name.
	NodeName string
	Ports    Ports
	// Host is the address the agent binds to and advertises: 127.0.0.1
	// unless the node runs in a network namespace of its own.
	Host string
	// Netns is the network namespace the agent runs in (`ip netns exec`),
	// empty for the harness's own. The harness reaches the node from inside
	// it: see DialContext.
	Netns   string
	DataDir string
	// LogPath collects the agent's stdout and stderr across restarts.
	LogPath string

	httpOnce sync.Once
	httpc    *http.Client

	mu   sync.Mutex
	proc *process
}

// GRPCAddr is the host:port of the node's gRPC API.
func (n *Node) GRPCAddr() string { return n.hostPort(n.Ports.GRPC) }

// HTTPAddr is the host:port of the node's /metrics, /healthz and /readyz.
func (n *Node) HTTPAddr() string { return n.hostPort(n.Ports.HTTP) }

// NDMPAddr is the node's NDMP server (serving only with -ndmp-password).
func (n *Node) NDMPAddr() string { return n.hostPort(n.Ports.NDMP) }

// ISCSIAddr is the node's iSCSI portal.
func (n *Node) ISCSIAddr() string { return n.hostPort(n.Ports.ISCSI) }

// GossipAddr is the host:port other nodes -join.
func (n *Node) GossipAddr() string { return n.hostPort(n.Ports.Gossip) }

func (n *Node) hostPort(port int) string { return net.JoinHostPort(n.Host, strconv.Itoa(port)) }

// DialContext connects to one of the node's addresses: from inside the
// node's network namespace when it has one, as a client on its host would.
func (n *Node) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if n.Netns == "" {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return dialInNetns(ctx, n.Netns, network, addr)
}

// HTTPClient is a client for the node's HTTP port (/metrics, /readyz).
func (n *Node) HTTPClient() *http.Client {
	if n.Netns == "" {
		return http.DefaultClient
	}
	n.httpOnce.Do(func() {
		n.httpc = &http.Client{Transport: &http.Transport{DialContext: n.DialContext, MaxIdleConnsPerHost: 2}}
	})
	return n.httpc
}

// Running reports whether the node's process has been started and has not
// exited.
func (n *Node) Running() bool {
	p := n.current()
	return p != nil && !p.exited()
}

// PID is the running process's id, or 0.
func (n *Node) PID() int {
	if p := n.current(); p != nil && !p.exited() {
		return p.cmd.Process.Pid
	}
	return 0
}

// Exited is closed when the current process ends; nil if never started.
func (n *Node) Exited() <-chan struct{} {
	if p := n.current(); p != nil {
		return p.done
	}
	return nil
}

// ExitErr is how the current process ended: nil while it runs or if it
// exited 0, an *exec.ExitError otherwise.
func (n *Node) ExitErr() error {
	if p := n.current(); p != nil && p.exited() {
		return p.err
	}
	return nil
}

func (n *Node) current() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// process is one run of an agent.
type process struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
	err  error // set before done is closed
}

func startProcess(binary string, args []string, logPath string) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("localcluster: open log: %w", err)
	}
	fmt.Fprintf(log, "\n=== localcluster %s: %s %q\n", time.Now().Format(time.RFC3339Nano), binary, args)
	cmd := exec.Command(binary, args...)
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("localcluster: start %s: %w", binary, err)
	}
	p := &process{cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		fmt.Fprintf(log, "=== localcluster %s: exited: %v\n", time.Now().Format(time.RFC3339Nano), exitText(p.err))
		log.Close()
		close(p.done)
	}()
	return p, nil
}

func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig unless the process has already ended.
func (p *process) signal(sig os.Signal) error {
	if p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("localcluster: signal pid %d: %w", p.cmd.Process.Pid, err)
	}
	return nil
}
