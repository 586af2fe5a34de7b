package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// TestNoAgent checks that a client with nothing to talk to says so at once,
// whatever -timeout allows, and how to mend it.
func TestNoAgent(t *testing.T) {
	refused := closedPort(t)
	httpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(httpSrv.Close)
	httpAddr := strings.TrimPrefix(httpSrv.URL, "http://")
	// A server that greets in its own protocol, as SSH or SMTP do.
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()

	tests := []struct {
		golden string
		args   []string
	}{
		{"no_agent_refused", []string{"members", "-addr", refused}},
		{"no_agent_http_port", []string{"job", "list", "-addr", httpAddr}},
		{"no_agent_not_grpc", []string{"raft", "status", "-addr", other.Addr().String()}},
		{"no_agent_watch", []string{"job", "watch", "j-1", "-addr", refused}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			start := time.Now()
			r := runFerry(t, nil, "", append(tt.args, "-timeout", "30s")...)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %s, want an answer within seconds", took)
			}
			got := strings.NewReplacer(refused, "ADDR", httpAddr, "ADDR", other.Addr().String(), "ADDR").Replace(r.String())
			checkGolden(t, tt.golden, got)
		})
	}
}

func TestWithDefaultPort(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"127.0.0.1:7101", "127.0.0.1:7101", ""},
		{"db-node", "db-node:7101", ""},
		{"10.0.0.1", "10.0.0.1:7101", ""},
		{"::1", "[::1]:7101", ""},
		{"[::1]", "[::1]:7101", ""},
		{"[::1]:9000", "[::1]:9000", ""},
		{"dns:///db-node:7101", "dns:///db-node:7101", ""},
		{"", "", "-addr is empty"},
		{"db-node:", "", "want HOST[:PORT]"},
		{":7101", "", "want HOST[:PORT]"},
	}
	for _, tt := range tests {
		got, err := withDefaultPort(tt.in)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("withDefaultPort(%q) = %q, %v; want %q, error containing %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestAddrWithoutPort checks that -addr HOST reaches port 7101 (the test
// only sees the refusal: nothing may listen on 7101 here).
func TestAddrWithoutPort(t *testing.T) {
	r := runFerry(t, nil, "", "members", "-addr", "127.0.0.1", "-timeout", "1s")
	if !strings.Contains(r.stderr, "127.0.0.1:7101") {
		t.Errorf("got %v, want the error to name 127.0.0.1:7101", r)
	}
}

// TestCopyAgentGoesAway checks that a copy whose agent stops while it is
// followed names the job and says it may still run.
func TestCopyAgentGoesAway(t *testing.T) {
	f := &dataFake{fakeServer: &fakeServer{
		watchStreams:   [][]*ferryv1.Job{{copyJob(running, 0, 4<<20, 1, "copying"), nil}},
		stopAfterWatch: true,
	}}
	addr := startDataFake(t, f)
	r := runFerry(t, nil, "", "copy", "disk:db01", "disk:db02", "-addr", addr, "-timeout", "30s")
	want := "job j-9 running: 0 B of 4.0 MiB (0%)\n" +
		"ferry: no Ferry agent at " + addr + " (connection refused): start one with 'ferry agent -dev' or set -addr/FERRY_ADDR\n" +
		"ferry: lost the cluster while following job j-9: it may still be running; follow it with 'ferry job watch j-9'\n"
	if r.code != exitFailure || r.stderr != want {
		t.Errorf("got %v\nwant exit 1 and stderr %q", r, want)
	}
}

// TestWatchInterrupted checks that Ctrl-C on job watch leaves the job alone,
// says so, and exits 130.
func TestWatchInterrupted(t *testing.T) {
	f := &fakeServer{watchStreams: brokenStreams(watchJobAt(running, 0, "copying", 0), 100)}
	addr := startFake(t, f)
	r := runInterrupted(false, "job", "watch", "j-1", "-addr", addr, "-timeout", "1m")
	want := "ferry: interrupted: job j-1 is still running; follow it again with 'ferry job watch j-1'\n"
	if r.code != exitInterrupted || r.stderr != want {
		t.Errorf("got %v\nwant exit 130 and stderr %q", r, want)
	}
}

func TestVersion(t *testing.T) {
	var b strings.Builder
	versionInfo{version: "v1.2.3", commit: "d6b1f05", commitTime: "2026-12-01T10:00:00Z", modified: true,
		goVersion: "go1.25.0", buildDate: "2026-12-02T04:00:00Z"}.write(&b)
	want := "ferry v1.2.3\n" +
		"  commit:     d6b1f05 (with uncommitted changes), committed 2026-12-01T10:00:00Z\n" +
		"  go:         go1.25.0 " + runtime.GOOS + "/" + runtime.GOARCH + "\n" +
		"  built:      2026-12-02T04:00:00Z\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		r := runFerry(t, nil, "", args...)
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "ferry ") || !strings.Contains(r.stdout, "go:         go") {
			t.Errorf("ferry %v: got %v", args, r)
		}
	}
	if r := runFerry(t, nil, "", "version", "x"); r.code != exitUsage {
		t.Errorf("ferry version x: got %v, want a usage error", r)
	}
}
