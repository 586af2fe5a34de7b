package ndmpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-san/ferry/ndmp"
)

const (
	testUser     = "dma"
	testPassword = "s3cret-pass"
)

// startServer serves cfg (a fake cluster and the test credentials when
// unset) on a free loopback port and returns its address.
func startServer(t testing.TB, cfg Config) (string, *Server) {
	t.Helper()
	if cfg.Cluster == nil {
		cfg.Cluster = newFakeCluster(t, "A00001L9", "A00002L9")
	}
	if cfg.User == "" && cfg.Password == "" && cfg.Credentials == nil {
		cfg.User, cfg.Password = testUser, testPassword
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), srv
}

// dial connects a DMA to addr; authenticated with MD5 unless auth is false.
func dial(t testing.TB, addr string, auth bool) *ndmp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ndmp.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if auth {
		if err := c.AuthMD5(ctx, testUser, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// call sends a request and returns its reply, failing the test on a
// transport error.
func call(t testing.TB, c *ndmp.Client, code ndmp.Ndmp4_message, body ndmp.Body) *ndmp.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := c.Call(ctx, code, body)
	if err != nil {
		t.Fatalf("%v: %v", code, err)
	}
	return m
}

func wantCode(t testing.TB, m *ndmp.Message, want ndmp.Ndmp4_error) {
	t.Helper()
	got := m.Header.Error_code
	if got == ndmp.NDMP4_NO_ERR {
		got = ndmp.BodyError(m.Body)
	}
	if got != want {
		t.Fatalf("%v answered %v, want %v", m.Header.Message_code, got, want)
	}
}

func TestAuthentication(t *testing.T) {
	addr, _ := startServer(t, Config{})
	ctx := context.Background()
	t.Run("md5", func(t *testing.T) { dial(t, addr, true) })
	t.Run("text", func(t *testing.T) {
		c := dial(t, addr, false)
		if err := c.AuthText(ctx, testUser, testPassword); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		c := dial(t, addr, false)
		var ne *ndmp.Error
		if err := c.AuthMD5(ctx, testUser, "nope"); !errors.As(err, &ne) || ne.Code != ndmp.NDMP4_NOT_AUTHORIZED_ERR {
			t.Fatalf("MD5 with a wrong password: %v", err)
		}
		if err := c.AuthText(ctx, "root", testPassword); !errors.As(err, &ne) || ne.Code != ndmp.NDMP4_NOT_AUTHORIZED_ERR {
			t.Fatalf("TEXT with a wrong user: %v", err)
		}
	})
	t.Run("md5 without a challenge", func(t *testing.T) {
		c := dial(t, addr, false)
		var a ndmp.Ndmp4_connect_client_auth_request
		a.Auth_data.Auth_type = ndmp.NDMP4_AUTH_MD5
		a.Auth_data.Auth_md5().Auth_id = testUser
		wantCode(t, call(t, c, ndmp.NDMP4_CONNECT_CLIENT_AUTH, &a), ndmp.NDMP4_NOT_AUTHORIZED_ERR)
	})
	t.Run("none refused by default", func(t *testing.T) {
		c := dial(t, addr, false)
		var a ndmp.Ndmp4_connect_client_auth_request
		wantCode(t, call(t, c, ndmp.NDMP4_CONNECT_CLIENT_AUTH, &a), ndmp.NDMP4_NOT_AUTHORIZED_ERR)
	})
	t.Run("nothing before authentication", func(t *testing.T) {
		c := dial(t, addr, false)
		wantCode(t, call(t, c, ndmp.NDMP4_CONFIG_GET_TAPE_INFO, nil), ndmp.NDMP4_NOT_AUTHORIZED_ERR)
		wantCode(t, call(t, c, ndmp.NDMP4_TAPE_OPEN, &ndmp.Ndmp4_tape_open_request{Device: "lib/0"}), ndmp.NDMP4_NOT_AUTHORIZED_ERR)
		// The server says who it is and how to authenticate.
		wantCode(t, call(t, c, ndmp.NDMP4_CONFIG_GET_SERVER_INFO, nil), ndmp.NDMP4_NO_ERR)
	})
}

// TestCredentialsRotation: credentials from Config.Credentials change
// while the server runs; the next login needs the new ones, a session
// logged in goes on, and none set refuses everyone.
func TestCredentialsRotation(t *testing.T) {
	var mu sync.Mutex
	user, password := "", ""
	addr, _ := startServer(t, Config{Credentials: func() (string, string) {
		mu.Lock()
		defer mu.Unlock()
		return user, password
	}})
	set := func(u, p string) { mu.Lock(); user, password = u, p; mu.Unlock() }
	ctx := context.Background()
	var ne *ndmp.Error
	if err := dial(t, addr, false).AuthText(ctx, "", ""); !errors.As(err, &ne) || ne.Code != ndmp.NDMP4_NOT_AUTHORIZED_ERR {
		t.Fatalf("login with no credentials set: %v", err)
	}
	set(testUser, testPassword)
	first := dial(t, addr, true)
	set(testUser, "rotated-password")
	if err := dial(t, addr, false).AuthMD5(ctx, testUser, testPassword); !errors.As(err, &ne) || ne.Code != ndmp.NDMP4_NOT_AUTHORIZED_ERR {
		t.Fatalf("login with the rotated-out password: %v", err)
	}
	if err := dial(t, addr, false).AuthMD5(ctx, testUser, "rotated-password"); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	wantCode(t, call(t, first, ndmp.NDMP4_CONFIG_GET_TAPE_INFO, nil), ndmp.NDMP4_NO_ERR)
}

func TestAuthNone(t *testing.T) {
	addr, _ := startServer(t, Config{Auth: []AuthMethod{AuthNone}})
	c := dial(t, addr, false)
	var a ndmp.Ndmp4_connect_client_auth_request
	wantCode(t, call(t, c, ndmp.NDMP4_CONNECT_CLIENT_AUTH, &a), ndmp.NDMP4_NO_ERR)
	wantCode(t, call(t, c, ndmp.NDMP4_CONFIG_GET_TAPE_INFO, nil), ndmp.NDMP4_NO_ERR)
}

func TestNewRefusesBadConfig(t *testing.T) {
	fc := newFakeCluster(t)
	for _, cfg := range []Config{
		{},
		{Cluster: fc},
		{Cluster: fc, User: "u"},
		{Cluster: fc, User: "u", Password: "p", Auth: []AuthMethod{"kerberos"}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestConnectOpenVersions(t *testing.T) {
	addr, _ := startServer(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ndmp.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Version 3 is refused, and the connection stays for version 4.
	wantCode(t, call(t, c, ndmp.NDMP4_CONNECT_OPEN, &ndmp.Ndmp4_connect_open_request{Protocol_version: 3}), ndmp.NDMP4_NOT_SUPPORTED_ERR)
	wantCode(t, call(t, c, ndmp.NDMP4_CONNECT_OPEN, &ndmp.Ndmp4_connect_open_request{Protocol_version: 4}), ndmp.NDMP4_NO_ERR)
}

func TestUndecodableAndUnknownMessages(t *testing.T) {
	addr, _ := startServer(t, Config{})
	c := dial(t, addr, true)
	conn := c.Conn().NetConn()
	// An unknown message code: NOT_SUPPORTED in the header.
	unknown := []byte{0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x77, 0x77, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := ndmp.WriteRecord(conn, unknown); err != nil {
		t.Fatal(err)
	}
	// TAPE_OPEN whose device string is cut short: XDR_DECODE_ERR.
	bad := []byte{0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 'l'}
	if err := ndmp.WriteRecord(conn, bad); err != nil {
		t.Fatal(err)
	}
	// The client's reader drops replies nobody waits for; the connection
	// must still answer a real request afterwards, in order.
	wantCode(t, call(t, c, ndmp.NDMP4_CONFIG_GET_CONNECTION_TYPE, nil), ndmp.NDMP4_NO_ERR)
}

func TestConfigInfo(t *testing.T) {
	addr, _ := startServer(t, Config{})
	c := dial(t, addr, true)
	tapes := call(t, c, ndmp.NDMP4_CONFIG_GET_TAPE_INFO, nil).Body.(*ndmp.Ndmp4_config_get_tape_info_reply)
	if len(tapes.Tape_info) != 1 || len(tapes.Tape_info[0].Caplist) != 2 ||
		tapes.Tape_info[0].Caplist[0].Device != "lib/0" || tapes.Tape_info[0].Caplist[1].Device != "lib/1" {
		t.Fatalf("tape info %+v", tapes)
	}
	scsi := call(t, c, ndmp.NDMP4_CONFIG_GET_SCSI_INFO, nil).Body.(*ndmp.Ndmp4_config_get_scsi_info_reply)
	if len(scsi.Scsi_info) != 1 || scsi.Scsi_info[0].Caplist[0].Device != "lib" {
		t.Fatalf("scsi info %+v", scsi)
	}
	bu := call(t, c, ndmp.NDMP4_CONFIG_GET_BUTYPE_INFO, nil).Body.(*ndmp.Ndmp4_config_get_butype_info_reply)
	if len(bu.Butype_info) != 1 || bu.Butype_info[0].Butype_name != "tar" {
		t.Fatalf("butype info %+v", bu)
	}
	si := call(t, c, ndmp.NDMP4_CONFIG_GET_SERVER_INFO, nil).Body.(*ndmp.Ndmp4_config_get_server_info_reply)
	if si.Vendor_name != "Ferry" || len(si.Auth_type) != 2 {
		t.Fatalf("server info %+v", si)
	}
	hi := call(t, c, ndmp.NDMP4_CONFIG_GET_HOST_INFO, nil).Body.(*ndmp.Ndmp4_config_get_host_info_reply)
	if hi.Hostid == "" || hi.Os_type == "" {
		t.Fatalf("host info %+v", hi)
	}
	wantCode(t, call(t, c, ndmp.NDMP4_CONFIG_GET_FS_INFO, nil), ndmp.NDMP4_NO_ERR)
	wantCode(t, call(t, c, ndmp.NDMP4_CONFIG_SET_EXT_LIST, &ndmp.Ndmp4_config_set_ext_list_request{
		Ndmp4_accepted_ext: []ndmp.Ndmp4_class_version{{Class_id: 0x2050, Class_version: 1}}}), ndmp.NDMP4_CLASS_NOT_SUPPORTED)
}

func TestConnectCloseEndsSession(t *testing.T) {
	addr, _ := startServer(t, Config{})
	c := dial(t, addr, true)
	if _, err := c.Call(context.Background(), ndmp.NDMP4_CONNECT_CLOSE, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("connection still open after CONNECT_CLOSE")
	}
}

func TestLocalDataConnection(t *testing.T) {
	s := &session{}
	l, err := s.listenLocal()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, ok := s.connectLocal()
	if !ok {
		t.Fatal("nothing to connect to")
	}
	defer d.Close()
	go func() { _, _ = d.Write([]byte("hello")); d.Close() }()
	got, err := io.ReadAll(l)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, ok := s.connectLocal(); ok {
		t.Fatal("a LOCAL connection was given twice")
	}
}

// TestRecordLimitBeforeAuth: before authenticating, a DMA cannot make the
// server read (and hold) a large record; the connection is dropped.
func TestRecordLimitBeforeAuth(t *testing.T) {
	addr, _ := startServer(t, Config{})
	c := dial(t, addr, false)
	big := make([]byte, preAuthLimit+1)
	if err := ndmp.WriteRecord(c.Conn().NetConn(), big); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("a record over the pre-authentication limit did not end the connection")
	}
	// Authenticated, the same size is a message like any other.
	c = dial(t, addr, true)
	wantCode(t, call(t, c, ndmp.NDMP4_TAPE_WRITE, &ndmp.Ndmp4_tape_write_request{Data_out: big}), ndmp.NDMP4_DEV_NOT_OPEN_ERR)
}

// TestMaxSessions: a connection over the limit is told REFUSED and closed;
// once one ends, the next is served.
func TestMaxSessions(t *testing.T) {
	addr, _ := startServer(t, Config{MaxSessions: 2})
	first := dial(t, addr, true)
	dial(t, addr, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := ndmp.Dial(ctx, addr); err == nil || !strings.Contains(err.Error(), "REFUSED") {
		t.Fatalf("a third connection: %v, want refused", err)
	}
	first.Close()
	// The server notices the close asynchronously: retry until served.
	for {
		c, err := ndmp.Dial(ctx, addr)
		if err == nil {
			c.Close()
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("no connection served after one closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
