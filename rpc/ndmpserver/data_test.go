package ndmpserver

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/ndmp"
)

// tcpAddr is addr (host:port on loopback) as NDMP encodes it.
func tcpAddr(t testing.TB, addr net.Addr) ndmp.Ndmp4_addr {
	t.Helper()
	ta := addr.(*net.TCPAddr)
	ip := ta.IP.To4()
	a := ndmp.Ndmp4_addr{Addr_type: ndmp.NDMP4_ADDR_TCP}
	*a.Tcp_addr() = []ndmp.Ndmp4_tcp_addr{{
		Ip_addr: uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3]),
		Port:    uint32(ta.Port),
	}}
	return a
}

func getDataState(t testing.TB, c *ndmp.Client) *ndmp.Ndmp4_data_get_state_reply {
	t.Helper()
	m := call(t, c, ndmp.NDMP4_DATA_GET_STATE, nil)
	wantCode(t, m, ndmp.NDMP4_NO_ERR)
	return m.Body.(*ndmp.Ndmp4_data_get_state_reply)
}

func wantDataState(t testing.TB, c *ndmp.Client, state ndmp.Ndmp4_data_state, reason ndmp.Ndmp4_data_halt_reason) {
	t.Helper()
	st := getDataState(t, c)
	if st.State != state || st.Halt_reason != reason {
		t.Fatalf("DATA state %v (%v), want %v (%v)", st.State, st.Halt_reason, state, reason)
	}
}

// TestDataStateSeries is ndmjob's test-data (D-IDLE, D-LISTEN with TCP and
// LOCAL, D-LISTEN/bogus-args): each step's expected answer in each state.
func TestDataStateSeries(t *testing.T) {
	addr, _ := startServer(t, Config{DataRoots: []string{"/"}})
	c := dial(t, addr, true)
	type step struct {
		code  ndmp.Ndmp4_message
		body  ndmp.Body
		want  ndmp.Ndmp4_error
		state ndmp.Ndmp4_data_state
		halt  ndmp.Ndmp4_data_halt_reason
	}
	listen := func(at ndmp.Ndmp4_addr_type) *ndmp.Ndmp4_data_listen_request {
		return &ndmp.Ndmp4_data_listen_request{Addr_type: at}
	}
	idle, listening, halted := ndmp.NDMP4_DATA_STATE_IDLE, ndmp.NDMP4_DATA_STATE_LISTEN, ndmp.NDMP4_DATA_STATE_HALTED
	na, aborted := ndmp.NDMP4_DATA_HALT_NA, ndmp.NDMP4_DATA_HALT_ABORTED
	var steps []step
	steps = append(steps,
		step{ndmp.NDMP4_DATA_ABORT, nil, ndmp.NDMP4_ILLEGAL_STATE_ERR, idle, na},
		step{ndmp.NDMP4_DATA_STOP, nil, ndmp.NDMP4_ILLEGAL_STATE_ERR, idle, na},
		step{ndmp.NDMP4_DATA_GET_ENV, nil, ndmp.NDMP4_ILLEGAL_STATE_ERR, idle, na},
	)
	for _, at := range []ndmp.Ndmp4_addr_type{ndmp.NDMP4_ADDR_TCP, ndmp.NDMP4_ADDR_LOCAL} {
		steps = append(steps,
			step{ndmp.NDMP4_DATA_LISTEN, listen(at), ndmp.NDMP4_NO_ERR, listening, na},
			step{ndmp.NDMP4_DATA_LISTEN, listen(at), ndmp.NDMP4_ILLEGAL_STATE_ERR, listening, na},
			step{ndmp.NDMP4_DATA_CONNECT, &ndmp.Ndmp4_data_connect_request{Addr: ndmp.Ndmp4_addr{Addr_type: ndmp.NDMP4_ADDR_LOCAL}}, ndmp.NDMP4_ILLEGAL_STATE_ERR, listening, na},
			step{ndmp.NDMP4_DATA_STOP, nil, ndmp.NDMP4_ILLEGAL_STATE_ERR, listening, na},
			step{ndmp.NDMP4_DATA_ABORT, nil, ndmp.NDMP4_NO_ERR, halted, aborted},
			step{ndmp.NDMP4_DATA_ABORT, nil, ndmp.NDMP4_ILLEGAL_STATE_ERR, halted, aborted},
			step{ndmp.NDMP4_DATA_STOP, nil, ndmp.NDMP4_NO_ERR, idle, na},
		)
	}
	steps = append(steps,
		step{ndmp.NDMP4_DATA_LISTEN, listen(123), ndmp.NDMP4_ILLEGAL_ARGS_ERR, idle, na},
		// LOCAL connect with no mover listening in this session.
		step{ndmp.NDMP4_DATA_CONNECT, &ndmp.Ndmp4_data_connect_request{Addr: ndmp.Ndmp4_addr{Addr_type: ndmp.NDMP4_ADDR_LOCAL}}, ndmp.NDMP4_ILLEGAL_STATE_ERR, idle, na},
		step{ndmp.NDMP4_DATA_START_BACKUP, &ndmp.Ndmp4_data_start_backup_request{Butype_name: "tar"}, ndmp.NDMP4_ILLEGAL_STATE_ERR, idle, na},
	)
	wantDataState(t, c, idle, na)
	for i, s := range steps {
		m := call(t, c, s.code, s.body)
		got := m.Header.Error_code
		if got == ndmp.NDMP4_NO_ERR {
			got = ndmp.BodyError(m.Body)
		}
		if got != s.want {
			t.Fatalf("step %d: %v answered %v, want %v", i, s.code, got, s.want)
		}
		st := getDataState(t, c)
		if st.State != s.state || st.Halt_reason != s.halt {
			t.Fatalf("step %d: after %v the state is %v (%v), want %v (%v)", i, s.code, st.State, st.Halt_reason, s.state, s.halt)
		}
	}
}

// makeDataTree builds a small tree with a nested file, a symlink and a
// hard link.
func makeDataTree(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{"sub/deeper", "empty-dir"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"a.txt":                  "alpha\n",
		"sub/b.txt":              strings.Repeat("bravo ", 10000),
		"sub/deeper/c.txt":       "charlie\n",
		strings.Repeat("L", 150): "a long name",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("sub/b.txt", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "a.txt"), filepath.Join(root, "sub", "hard")); err != nil {
		t.Fatal(err)
	}
}

// fakeMover plays the DMA's mover: it listens on loopback for the DATA
// service to connect and records or serves the stream.
type fakeMover struct {
	ln   net.Listener
	addr ndmp.Ndmp4_addr
}

func newFakeMover(t *testing.T) *fakeMover {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &fakeMover{ln: ln, addr: tcpAddr(t, ln.Addr())}
}

func (f *fakeMover) accept(t *testing.T) net.Conn {
	t.Helper()
	f.ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	c, err := f.ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// posts collects what the server posts until DATA halts; onRead answers
// NOTIFY_DATA_READ.
type posts struct {
	halted   ndmp.Ndmp4_data_halt_reason
	files    []ndmp.Ndmp4_file
	dirs     []ndmp.Ndmp4_dir
	nodes    []ndmp.Ndmp4_node
	logFiles []ndmp.Ndmp4_log_file_post
	logs     []string
	reads    []ndmp.Ndmp4_notify_data_read_post
}

func waitHalted(t *testing.T, c *ndmp.Client, onRead func(off, n uint64)) *posts {
	t.Helper()
	p := &posts{}
	deadline := time.After(60 * time.Second)
	for {
		select {
		case m := <-c.Posts:
			switch b := m.Body.(type) {
			case *ndmp.Ndmp4_notify_data_halted_post:
				p.halted = b.Reason
				return p
			case *ndmp.Ndmp4_fh_add_file_post:
				p.files = append(p.files, b.Files...)
			case *ndmp.Ndmp4_fh_add_dir_post:
				p.dirs = append(p.dirs, b.Dirs...)
			case *ndmp.Ndmp4_fh_add_node_post:
				p.nodes = append(p.nodes, b.Nodes...)
			case *ndmp.Ndmp4_log_file_post:
				p.logFiles = append(p.logFiles, *b)
			case *ndmp.Ndmp4_log_message_post:
				p.logs = append(p.logs, b.Entry)
			case *ndmp.Ndmp4_notify_data_read_post:
				p.reads = append(p.reads, *b)
				if onRead != nil {
					onRead(b.Offset, b.Length)
				}
			}
		case <-deadline:
			t.Fatal("no NOTIFY_DATA_HALTED within 60s")
		}
	}
}

// backupTo runs a backup of src into a fake mover and returns the stream
// and the posts.
func backupTo(t *testing.T, c *ndmp.Client, env []ndmp.Ndmp4_pval) ([]byte, *posts) {
	t.Helper()
	mv := newFakeMover(t)
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_CONNECT, &ndmp.Ndmp4_data_connect_request{Addr: mv.addr}), ndmp.NDMP4_NO_ERR)
	wantDataState(t, c, ndmp.NDMP4_DATA_STATE_CONNECTED, ndmp.NDMP4_DATA_HALT_NA)
	conn := mv.accept(t)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		got <- b
	}()
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_START_BACKUP, &ndmp.Ndmp4_data_start_backup_request{Butype_name: "tar", Env: env}), ndmp.NDMP4_NO_ERR)
	p := waitHalted(t, c, nil)
	if p.halted != ndmp.NDMP4_DATA_HALT_SUCCESSFUL {
		t.Fatalf("backup halted %v: %v", p.halted, p.logs)
	}
	stream := <-got
	st := getDataState(t, c)
	if st.State != ndmp.NDMP4_DATA_STATE_HALTED || st.Operation != ndmp.NDMP4_DATA_OP_BACKUP || st.Bytes_processed != uint64(len(stream)) {
		t.Fatalf("after the backup: %+v, stream of %d bytes", st, len(stream))
	}
	return stream, p
}

// recoverFrom runs a recover whose mover serves stream; it returns the
// posts and the bytes served.
func recoverFrom(t *testing.T, c *ndmp.Client, stream []byte, env []ndmp.Ndmp4_pval, nlist []ndmp.Ndmp4_name) (*posts, int64) {
	t.Helper()
	mv := newFakeMover(t)
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_CONNECT, &ndmp.Ndmp4_data_connect_request{Addr: mv.addr}), ndmp.NDMP4_NO_ERR)
	conn := mv.accept(t)
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_START_RECOVER, &ndmp.Ndmp4_data_start_recover_request{Butype_name: "tar", Env: env, Nlist: nlist}), ndmp.NDMP4_NO_ERR)
	var served int64
	p := waitHalted(t, c, func(off, n uint64) {
		// The mover's MOVER_READ: exactly the bytes asked for, as far as
		// the stream goes. Written from here: the DATA service reads what
		// it asked for before it asks again.
		end := min(off+n, uint64(len(stream)))
		if off >= end {
			conn.Close()
			return
		}
		short := end < off+n
		go func(b []byte) {
			_, _ = conn.Write(b)
			if short {
				// The end of the tape file: the DMA closes the mover.
				conn.Close()
			}
		}(stream[off:end])
		served += int64(end - off)
	})
	if p.halted != ndmp.NDMP4_DATA_HALT_SUCCESSFUL {
		t.Fatalf("recover halted %v: %v", p.halted, p.logs)
	}
	return p, served
}

func dataStopOK(t *testing.T, c *ndmp.Client) {
	t.Helper()
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_STOP, nil), ndmp.NDMP4_NO_ERR)
	wantDataState(t, c, ndmp.NDMP4_DATA_STATE_IDLE, ndmp.NDMP4_DATA_HALT_NA)
}

func TestDataBackupRecover(t *testing.T) {
	addr, _ := startServer(t, Config{DataRoots: []string{"/"}})
	c := dial(t, addr, true)
	src := t.TempDir()
	makeDataTree(t, src)
	stream, bp := backupTo(t, c, []ndmp.Ndmp4_pval{
		{Name: "FILESYSTEM", Value: src}, {Name: "HIST", Value: "y"}, {Name: "TYPE", Value: "tar"},
		{Name: "LEVEL", Value: "0"}, {Name: "DIRECT", Value: "y"}, {Name: "UPDATE", Value: "n"},
	})
	// File history: every entry with its offset, names rooted at "/".
	offsets := map[string]uint64{}
	for _, f := range bp.files {
		offsets[string(*f.Names[0].Unix_name())] = f.Fh_info
	}
	for _, want := range []string{"/", "/a.txt", "/sub/b.txt", "/sub/deeper/c.txt", "/link", "/sub/hard", "/empty-dir"} {
		if _, ok := offsets[want]; !ok {
			t.Errorf("no file history for %s (have %d entries)", want, len(offsets))
		}
	}
	env := call(t, c, ndmp.NDMP4_DATA_GET_ENV, nil)
	wantCode(t, env, ndmp.NDMP4_NO_ERR)
	if e := env.Body.(*ndmp.Ndmp4_data_get_env_reply).Env; len(e) == 0 || e[0].Name != "FILESYSTEM" || e[0].Value != src {
		t.Errorf("DATA_GET_ENV: %v", e)
	}
	dataStopOK(t, c)

	// A whole recover into an empty directory.
	dst := t.TempDir()
	rp, served := recoverFrom(t, c, stream, []ndmp.Ndmp4_pval{{Name: "PREFIX", Value: dst}, {Name: "HIST", Value: "n"}}, nil)
	if served != int64(len(stream)) && len(rp.reads) != 1 {
		t.Errorf("whole recover: %d reads, %d of %d bytes", len(rp.reads), served, len(stream))
	}
	for _, name := range []string{"a.txt", "sub/b.txt", "sub/deeper/c.txt", strings.Repeat("L", 150)} {
		want, _ := os.ReadFile(filepath.Join(src, name))
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "sub/b.txt" {
		t.Errorf("link: %q %v", target, err)
	}
	dataStopOK(t, c)

	// One file by direct access, under a new name, the way ndmjob -x
	// with an index asks: PREFIX + "/" + the path, and the fh_info.
	dst2 := t.TempDir()
	rp, served = recoverFrom(t, c, stream, []ndmp.Ndmp4_pval{{Name: "PREFIX", Value: dst2}, {Name: "DIRECT", Value: "y"}},
		[]ndmp.Ndmp4_name{{Original_path: "/sub/deeper/c.txt", Destination_path: dst2 + "/restored.txt", Fh_info: offsets["/sub/deeper/c.txt"], Node: invalidQuad}})
	if got, err := os.ReadFile(filepath.Join(dst2, "restored.txt")); err != nil || string(got) != "charlie\n" {
		t.Errorf("direct recover: %q %v", got, err)
	}
	if len(rp.logFiles) != 1 || rp.logFiles[0].Recovery_status != ndmp.NDMP4_RECOVERY_SUCCESSFUL {
		t.Errorf("LOG_FILE: %+v", rp.logFiles)
	}
	if len(rp.reads) != 1 || rp.reads[0].Offset != offsets["/sub/deeper/c.txt"] || served > 16<<10 {
		t.Errorf("direct recover read %d bytes in %+v, want one read at %d", served, rp.reads, offsets["/sub/deeper/c.txt"])
	}
	t.Logf("direct recover read %d of the stream's %d bytes", served, len(stream))
	dataStopOK(t, c)

	// A name the backup does not have.
	dst3 := t.TempDir()
	rp, _ = recoverFrom(t, c, stream, []ndmp.Ndmp4_pval{{Name: "PREFIX", Value: dst3}},
		[]ndmp.Ndmp4_name{{Original_path: "/nope", Destination_path: dst3 + "/nope", Fh_info: invalidQuad}})
	if len(rp.logFiles) != 1 || rp.logFiles[0].Recovery_status != ndmp.NDMP4_RECOVERY_FAILED_NOT_FOUND {
		t.Errorf("LOG_FILE for a missing name: %+v", rp.logFiles)
	}
	dataStopOK(t, c)
}

func TestDataDirNodeHistory(t *testing.T) {
	addr, _ := startServer(t, Config{DataRoots: []string{"/"}})
	c := dial(t, addr, true)
	src := t.TempDir()
	makeDataTree(t, src)
	_, p := backupTo(t, c, []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: src}, {Name: "HIST", Value: "d"}})
	if len(p.files) != 0 || len(p.dirs) < 3 || len(p.nodes) == 0 {
		t.Fatalf("HIST=d posted %d files, %d dirs, %d nodes", len(p.files), len(p.dirs), len(p.nodes))
	}
	root := p.dirs[0]
	if string(*root.Names[0].Unix_name()) != "." || root.Node != root.Parent ||
		string(*p.dirs[1].Names[0].Unix_name()) != ".." || p.dirs[1].Node != root.Node {
		t.Errorf("first entries %+v %+v, want . and .. of the root", root, p.dirs[1])
	}
	// Every directory entry's node has its stat, and every parent is a
	// node of a directory.
	nodes := map[uint64]ndmp.Ndmp4_node{}
	for _, n := range p.nodes {
		nodes[n.Node] = n
	}
	for _, d := range p.dirs {
		if _, ok := nodes[d.Node]; !ok {
			t.Errorf("dir entry %s: node %d has no FH_ADD_NODE", string(*d.Names[0].Unix_name()), d.Node)
		}
		if n, ok := nodes[d.Parent]; !ok || n.Stats[0].Ftype != ndmp.NDMP4_FILE_DIR {
			t.Errorf("dir entry %s: parent %d is not a directory node", string(*d.Names[0].Unix_name()), d.Parent)
		}
	}
}

func TestDataRefusedEnv(t *testing.T) {
	src := t.TempDir()
	other := t.TempDir()
	addr, _ := startServer(t, Config{DataRoots: []string{src}})
	c := dial(t, addr, true)
	mv := newFakeMover(t)
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_CONNECT, &ndmp.Ndmp4_data_connect_request{Addr: mv.addr}), ndmp.NDMP4_NO_ERR)
	tests := []struct {
		name   string
		butype string
		env    []ndmp.Ndmp4_pval
	}{
		{"no FILESYSTEM", "tar", nil},
		{"relative FILESYSTEM", "tar", []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: "data"}}},
		{"outside the data roots", "tar", []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: other}}},
		{"dot-dot out of the roots", "tar", []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: src + "/../" + filepath.Base(other)}}},
		{"not a directory", "tar", []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: src + "/missing"}}},
		{"incremental", "tar", []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: src}, {Name: "LEVEL", Value: "1"}}},
		{"unknown variable", "tar", []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: src}, {Name: "COMPRESS", Value: "y"}}},
		{"bad HIST", "tar", []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: src}, {Name: "HIST", Value: "maybe"}}},
		{"other TYPE", "tar", []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: src}, {Name: "TYPE", Value: "dump"}}},
		{"butype dump", "dump", []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: src}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := call(t, c, ndmp.NDMP4_DATA_START_BACKUP, &ndmp.Ndmp4_data_start_backup_request{Butype_name: tc.butype, Env: tc.env})
			wantCode(t, m, ndmp.NDMP4_ILLEGAL_ARGS_ERR)
			select {
			case p := <-c.Posts:
				if lm, ok := p.Body.(*ndmp.Ndmp4_log_message_post); !ok || lm.Log_type != ndmp.NDMP4_LOG_ERROR {
					t.Errorf("posted %v, want a LOG_MESSAGE error", p)
				} else {
					t.Logf("LOG_MESSAGE: %s", lm.Entry)
				}
			case <-time.After(30 * time.Second):
				t.Error("no LOG_MESSAGE")
			}
			wantDataState(t, c, ndmp.NDMP4_DATA_STATE_CONNECTED, ndmp.NDMP4_DATA_HALT_NA)
		})
	}
}

// TestDataAbortActive aborts a backup whose mover does not read.
func TestDataAbortActive(t *testing.T) {
	addr, _ := startServer(t, Config{DataRoots: []string{"/"}})
	c := dial(t, addr, true)
	src := t.TempDir()
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(src, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	mv := newFakeMover(t)
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_CONNECT, &ndmp.Ndmp4_data_connect_request{Addr: mv.addr}), ndmp.NDMP4_NO_ERR)
	_ = mv.accept(t) // never read: the backup blocks on a full socket
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_START_BACKUP, &ndmp.Ndmp4_data_start_backup_request{Butype_name: "tar",
		Env: []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: src}}}), ndmp.NDMP4_NO_ERR)
	wantDataState(t, c, ndmp.NDMP4_DATA_STATE_ACTIVE, ndmp.NDMP4_DATA_HALT_NA)
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_ABORT, nil), ndmp.NDMP4_NO_ERR)
	wantDataState(t, c, ndmp.NDMP4_DATA_STATE_HALTED, ndmp.NDMP4_DATA_HALT_ABORTED)
	if p := waitHalted(t, c, nil); p.halted != ndmp.NDMP4_DATA_HALT_ABORTED {
		t.Errorf("NOTIFY_DATA_HALTED %v", p.halted)
	}
	dataStopOK(t, c)
}

func TestSelections(t *testing.T) {
	tests := []struct {
		name      string
		nlist     []ndmp.Ndmp4_name
		direct    bool
		wantDest  string
		wantOff   int64
		wantError bool
	}{
		{"prefix and path", []ndmp.Ndmp4_name{{Original_path: "/a/b", Destination_path: "/r/a/b", Fh_info: 1024}}, true, "a/b", 1024, false},
		{"direct off", []ndmp.Ndmp4_name{{Original_path: "a", Destination_path: "/r/x", Fh_info: 1024}}, false, "x", -1, false},
		{"invalid fh_info", []ndmp.Ndmp4_name{{Original_path: "a", Destination_path: "/r/x", Fh_info: invalidQuad}}, true, "x", -1, false},
		{"relative destination", []ndmp.Ndmp4_name{{Original_path: "a", Destination_path: "y/z"}}, true, "y/z", -1, false},
		{"outside the prefix", []ndmp.Ndmp4_name{{Original_path: "a", Destination_path: "/etc/passwd"}}, true, "", 0, true},
		{"dot-dot", []ndmp.Ndmp4_name{{Original_path: "a", Destination_path: "/r/../etc"}}, true, "", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, _, err := selections(tc.nlist, "/r", "/r", tc.direct)
			if (err != nil) != tc.wantError {
				t.Fatalf("error %v", err)
			}
			if err == nil && (sel[0].Dest != tc.wantDest || sel[0].Offset != tc.wantOff) {
				t.Errorf("got %+v", sel[0])
			}
		})
	}
}

// TestDataNoRoots: a server without data roots backs up nothing.
func TestDataNoRoots(t *testing.T) {
	addr, _ := startServer(t, Config{})
	c := dial(t, addr, true)
	mv := newFakeMover(t)
	wantCode(t, call(t, c, ndmp.NDMP4_DATA_CONNECT, &ndmp.Ndmp4_data_connect_request{Addr: mv.addr}), ndmp.NDMP4_NO_ERR)
	m := call(t, c, ndmp.NDMP4_DATA_START_BACKUP, &ndmp.Ndmp4_data_start_backup_request{Butype_name: "tar",
		Env: []ndmp.Ndmp4_pval{{Name: "FILESYSTEM", Value: t.TempDir()}}})
	wantCode(t, m, ndmp.NDMP4_ILLEGAL_ARGS_ERR)
}
