package localcluster

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// fakeAgentEnv makes the test binary act as a minimal agent: it serves
// /readyz on -http-port and exits 0 on SIGTERM. It lets the harness be tested
// without the real agent.
const fakeAgentEnv = "LOCALCLUSTER_FAKE_AGENT"

func TestMain(m *testing.M) {
	if os.Getenv(fakeAgentEnv) == "1" {
		os.Exit(fakeAgent(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeAgent(args []string) int {
	if len(args) == 0 || args[0] != "agent" {
		fmt.Fprintln(os.Stderr, "fake agent: want agent subcommand")
		return 2
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	httpPort := fs.Int("http-port", 0, "")
	node := fs.String("node", "", "")
	fs.String("data-dir", "", "")
	fs.String("bind", "", "")
	fs.Int("grpc-port", 0, "")
	fs.Int("gossip-port", 0, "")
	fs.Int("iscsi-port", 0, "")
	fs.Int("ndmp-port", 0, "")
	fs.String("site", "", "")
	fs.String("cluster-name", "", "")
	fs.String("log-level", "", "")
	fs.Bool("insecure", false, "")
	fs.String("join", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *node == "fail" {
		fmt.Fprintln(os.Stderr, "fake agent: told to fail")
		return 3
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*httpPort)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	go http.Serve(l, mux)
	fmt.Fprintf(os.Stderr, "fake agent %s up\n", *node)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	return 0
}

func newFakeCluster(t *testing.T) *Cluster {
	t.Helper()
	t.Setenv(fakeAgentEnv, "1")
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The fake agent serves plaintext: the harness's TLS is the real
	// agent's to test (test/).
	c, err := New(Config{Binary: bin, Dir: t.TempDir(), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.Tails(20))
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func TestLifecycle(t *testing.T) {
	c := newFakeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	n1, err := c.Start(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := c.Start(ctx, "n2", "n1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if got := n2.current().cmd.Args; !strings.Contains(strings.Join(got, " "), "-join "+n1.GossipAddr()) {
		t.Errorf("n2 args %q do not join n1 at %s", got, n1.GossipAddr())
	}

	ports := n1.Ports
	if err := c.Kill("n1"); err != nil {
		t.Fatal(err)
	}
	if n1.Running() {
		t.Fatal("n1 runs after Kill")
	}
	if got := c.Running(); len(got) != 1 || got[0] != "n2" {
		t.Fatalf("Running() = %v, want [n2]", got)
	}
	if err := c.Restart(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	if n1.Ports != ports {
		t.Errorf("ports changed across restart: %+v, then %+v", ports, n1.Ports)
	}
	if err := c.WaitReady(ctx, "n1"); err != nil {
		t.Fatal(err)
	}

	if err := c.Stop(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := n2.ExitErr(); err != nil {
		t.Errorf("n2 exit after SIGTERM: %v, want status 0", err)
	}
	tail, err := c.Tail("n1", 5)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tail, "fake agent n1 up") {
		t.Errorf("n1 log tail lacks the agent's output:\n%s", tail)
	}
}

func TestWaitReadyReportsExit(t *testing.T) {
	c := newFakeCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := c.Start(ctx, "fail")
	if err != nil {
		t.Fatal(err)
	}
	err = c.WaitReady(ctx, "fail")
	if !errors.Is(err, ErrExited) {
		t.Fatalf("WaitReady = %v, want ErrExited", err)
	}
	var exit *exec.ExitError
	if !errors.As(n.ExitErr(), &exit) || exit.ExitCode() != 3 {
		t.Errorf("ExitErr = %v, want exit status 3", n.ExitErr())
	}
}

func TestStartErrors(t *testing.T) {
	c := newFakeCluster(t)
	ctx := context.Background()
	if _, err := c.Start(ctx, "n1", "nosuch"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("join unknown node: %v, want ErrUnknownNode", err)
	}
	if _, err := c.Start(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Start(ctx, "n2"); err == nil {
		t.Error("second node named n2 started")
	}
	if err := c.Kill("nosuch"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Kill unknown node: %v, want ErrUnknownNode", err)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no binary", Config{Dir: t.TempDir()}},
		{"no dir", Config{Binary: "/bin/true"}},
		{"missing binary", Config{Binary: "/nonexistent/ferry", Dir: t.TempDir()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

func TestFreePortsAvoids(t *testing.T) {
	first, err := freePorts(nil)
	if err != nil {
		t.Fatal(err)
	}
	avoid := map[int]bool{first.GRPC: true, first.Gossip: true, first.HTTP: true, first.ISCSI: true, first.NDMP: true}
	for range 20 {
		p, err := freePorts(avoid)
		if err != nil {
			t.Fatal(err)
		}
		for _, port := range []int{p.GRPC, p.Gossip, p.HTTP, p.ISCSI, p.NDMP} {
			if avoid[port] {
				t.Fatalf("freePorts returned reserved port %d", port)
			}
		}
		if seen := map[int]bool{p.GRPC: true, p.Gossip: true, p.HTTP: true, p.ISCSI: true, p.NDMP: true}; len(seen) != 5 {
			t.Fatalf("freePorts returned a port twice: %+v", p)
		}
	}
}

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 5, "a\nb\nc\n"},
		{"a\nb\nc\n\n", 1, "c\n"},
	}
	for _, tt := range tests {
		if got := lastLines([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestSampleSpecSize(t *testing.T) {
	size := proto.Size(SampleSpec(123456))
	if size < 150 || size > 260 {
		t.Errorf("SampleSpec is %d bytes, want about 200", size)
	}
	for _, i := range []int{0, 999, 1000, 123456} {
		src := SampleSpec(i).GetSource()
		if end := src.GetLba() + src.GetBlocks(); end > sampleDiskBlocks {
			t.Errorf("SampleSpec(%d) reads up to block %d of the sample disk's %d", i, end, sampleDiskBlocks)
		}
	}
}
