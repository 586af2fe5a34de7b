package ndmpserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ferry-san/ferry/internal/tarbackup"
	"github.com/ferry-san/ferry/ndmp"
)

// The DATA service: butype "tar" over a directory of this node. A backup
// streams internal/tarbackup's output into the data connection (LOCAL: a
// socket pair shared with this session's MOVER; TCP: a socket to or from a
// mover on any node) and posts file history; a recover reads it back,
// asking the DMA for only the tape ranges it needs when the DMA's index
// gave fh_info offsets.

// fhBatch is how many file history entries go in one post: large enough
// that a 10,000-file backup costs tens of messages, small enough that a
// post stays far below the DMA's record limit.
const fhBatch = 512

// invalidQuad is NDMP's NDMP_INVALID_U_QUAD: "no value" in a u_quad field.
const invalidQuad = math.MaxUint64

// tarButype describes butype tar for CONFIG_GET_BUTYPE_INFO.
func tarButype() ndmp.Ndmp4_butype_info {
	return ndmp.Ndmp4_butype_info{
		Butype_name: "tar",
		Default_env: []ndmp.Ndmp4_pval{
			{Name: "FILESYSTEM", Value: ""},
			{Name: "TYPE", Value: "tar"},
			{Name: "HIST", Value: "y"},
			{Name: "DIRECT", Value: "y"},
			{Name: "LEVEL", Value: "0"},
			{Name: "UPDATE", Value: "n"},
			{Name: "RECURSIVE", Value: "y"},
		},
		Attrs: ndmp.NDMP4_BUTYPE_BACKUP_FILELIST | ndmp.NDMP4_BUTYPE_RECOVER_FILELIST |
			ndmp.NDMP4_BUTYPE_BACKUP_DIRECT | ndmp.NDMP4_BUTYPE_RECOVER_DIRECT |
			ndmp.NDMP4_BUTYPE_BACKUP_FH_FILE | ndmp.NDMP4_BUTYPE_BACKUP_FH_DIR |
			ndmp.NDMP4_BUTYPE_RECOVER_FILEHIST | ndmp.NDMP4_BUTYPE_RECOVER_FH_FILE,
	}
}

// histMode is the kind of file history a backup posts.
type histMode int

const (
	histNone histMode = iota
	histFile          // FH_ADD_FILE: one full path per entry
	histDir           // FH_ADD_DIR + FH_ADD_NODE: names per directory, stats per inode
)

// dataState is a session's DATA service. mu guards everything: handlers
// run on the session's goroutine, the stream on its own.
type dataState struct {
	mu     sync.Mutex
	state  ndmp.Ndmp4_data_state
	op     ndmp.Ndmp4_data_operation
	halt   ndmp.Ndmp4_data_halt_reason
	addr   ndmp.Ndmp4_addr // data_connection_addr
	ln     net.Listener    // TCP listen: accepted by accept
	conn   net.Conn        // the data connection once there is one
	connCh chan net.Conn   // TCP listen: the accepted connection
	env    []ndmp.Ndmp4_pval
	prog   *tarbackup.Progress

	readOffset, readLength uint64

	// dropLocal takes back the end of a LOCAL listen that no mover took.
	dropLocal func()

	cancel context.CancelFunc
	done   chan struct{} // closed when the stream goroutine ends
}

// dataState returns the session's DATA service, creating it.
func (s *session) dataState() *dataState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data == nil {
		d := &dataState{state: ndmp.NDMP4_DATA_STATE_IDLE}
		s.data = d
		s.closers = append(s.closers, func() { d.shutdown() })
	}
	return s.data
}

func registerData(h handlers) {
	h.add(ndmp.NDMP4_DATA_GET_STATE, dataGetState)
	h.add(ndmp.NDMP4_DATA_LISTEN, dataListen)
	h.add(ndmp.NDMP4_DATA_CONNECT, dataConnect)
	h.add(ndmp.NDMP4_DATA_START_BACKUP, dataStartBackup)
	h.add(ndmp.NDMP4_DATA_START_RECOVER, dataStartRecover)
	h.add(ndmp.NDMP4_DATA_START_RECOVER_FILEHIST, dataStartRecoverFilehist)
	h.add(ndmp.NDMP4_DATA_ABORT, dataAbort)
	h.add(ndmp.NDMP4_DATA_STOP, dataStop)
	h.add(ndmp.NDMP4_DATA_GET_ENV, dataGetEnv)
}

func dataGetState(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	d := s.dataState()
	d.mu.Lock()
	defer d.mu.Unlock()
	r := &ndmp.Ndmp4_data_get_state_reply{
		Operation:            d.op,
		State:                d.state,
		Halt_reason:          d.halt,
		Data_connection_addr: d.addr,
		Read_offset:          d.readOffset,
		Read_length:          d.readLength,
		Unsupported:          ndmp.NDMP4_DATA_STATE_EST_TIME_REMAIN_UNS | ndmp.NDMP4_DATA_STATE_EST_BYTES_REMAIN_UNS,
	}
	if d.prog != nil {
		r.Bytes_processed = uint64(d.prog.Processed())
		if n, ok := d.prog.Remaining(); ok {
			r.Est_bytes_remain = uint64(n)
			r.Unsupported &^= ndmp.NDMP4_DATA_STATE_EST_BYTES_REMAIN_UNS
		}
	}
	return r, ndmp.NDMP4_NO_ERR
}

func dataListen(_ context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	rq := req.Body.(*ndmp.Ndmp4_data_listen_request)
	reply := &ndmp.Ndmp4_data_listen_reply{}
	fail := func(code ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		reply.Error = code
		return reply, ndmp.NDMP4_NO_ERR
	}
	if rq.Addr_type != ndmp.NDMP4_ADDR_LOCAL && rq.Addr_type != ndmp.NDMP4_ADDR_TCP {
		return fail(ndmp.NDMP4_ILLEGAL_ARGS_ERR)
	}
	d := s.dataState()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != ndmp.NDMP4_DATA_STATE_IDLE {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	switch rq.Addr_type {
	case ndmp.NDMP4_ADDR_LOCAL:
		c, err := s.listenLocal()
		if err != nil {
			s.log.Warn("DATA_LISTEN LOCAL", "err", err)
			return fail(ndmp.NDMP4_IO_ERR)
		}
		// The mover takes the other end when it connects; the DATA side
		// cannot see that moment, and needs not: the stream starts with
		// DATA_START_*.
		d.conn = c
		d.addr = ndmp.Ndmp4_addr{Addr_type: ndmp.NDMP4_ADDR_LOCAL}
		d.dropLocal = func() {
			if peer, ok := s.connectLocal(); ok {
				peer.Close()
			}
		}
	case ndmp.NDMP4_ADDR_TCP:
		ln, addr, err := s.listenTCP()
		if err != nil {
			s.log.Warn("DATA_LISTEN TCP", "err", err)
			return fail(ndmp.NDMP4_IO_ERR)
		}
		d.ln, d.addr = ln, addr
		d.connCh = make(chan net.Conn, 1)
		go d.accept(ln, d.connCh)
	}
	d.state = ndmp.NDMP4_DATA_STATE_LISTEN
	d.halt = ndmp.NDMP4_DATA_HALT_NA
	reply.Connect_addr = d.addr
	return reply, ndmp.NDMP4_NO_ERR
}

// accept takes the one connection a listen waits for and moves the state
// to CONNECTED.
func (d *dataState) accept(ln net.Listener, ch chan<- net.Conn) {
	c, err := ln.Accept()
	ln.Close()
	if err != nil {
		close(ch)
		return
	}
	d.mu.Lock()
	if d.state == ndmp.NDMP4_DATA_STATE_LISTEN && d.ln == ln {
		d.state = ndmp.NDMP4_DATA_STATE_CONNECTED
	}
	d.mu.Unlock()
	ch <- c
}

func dataConnect(ctx context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	rq := req.Body.(*ndmp.Ndmp4_data_connect_request)
	reply := &ndmp.Ndmp4_data_connect_reply{}
	fail := func(code ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		reply.Error = code
		return reply, ndmp.NDMP4_NO_ERR
	}
	if rq.Addr.Addr_type != ndmp.NDMP4_ADDR_LOCAL && rq.Addr.Addr_type != ndmp.NDMP4_ADDR_TCP {
		return fail(ndmp.NDMP4_ILLEGAL_ARGS_ERR)
	}
	d := s.dataState()
	d.mu.Lock()
	state := d.state
	d.mu.Unlock()
	if state != ndmp.NDMP4_DATA_STATE_IDLE {
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	var c net.Conn
	switch rq.Addr.Addr_type {
	case ndmp.NDMP4_ADDR_LOCAL:
		var ok bool
		if c, ok = s.connectLocal(); !ok {
			// The mover of this session is not listening LOCAL.
			return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
		}
	case ndmp.NDMP4_ADDR_TCP:
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var err error
		c, err = dialAddr(dctx, rq.Addr)
		cancel()
		if err != nil {
			s.logMessage(ndmp.NDMP4_LOG_ERROR, "DATA_CONNECT: %v", err)
			return fail(ndmp.NDMP4_CONNECT_ERR)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state != ndmp.NDMP4_DATA_STATE_IDLE {
		c.Close()
		return fail(ndmp.NDMP4_ILLEGAL_STATE_ERR)
	}
	d.conn, d.addr = c, rq.Addr
	d.state = ndmp.NDMP4_DATA_STATE_CONNECTED
	d.halt = ndmp.NDMP4_DATA_HALT_NA
	return reply, ndmp.NDMP4_NO_ERR
}

// dataEnv is a start request's environment, checked.
type dataEnv struct {
	filesystem string
	prefix     string
	hist       histMode
	direct     bool
	recursive  bool
	files      []string
	exclude    []string
	echo       []ndmp.Ndmp4_pval // what get_env gives back
}

// envError is an environment variable the DMA must be told about.
type envError struct{ msg string }

func (e *envError) Error() string { return e.msg }

func yesNo(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "y", "yes", "t", "true", "1":
		return true, nil
	case "n", "no", "f", "false", "0":
		return false, nil
	}
	return false, &envError{fmt.Sprintf("%s=%q: want y or n", name, v)}
}

// parseEnv reads the variables butype tar knows; any other is refused, so
// that a DMA never believes an option took effect when it did not.
func parseEnv(env []ndmp.Ndmp4_pval, recover bool) (dataEnv, error) {
	e := dataEnv{direct: true, recursive: true}
	for _, pv := range env {
		name, v := strings.ToUpper(pv.Name), pv.Value
		keep := true
		var err error
		switch name {
		case "FILESYSTEM":
			e.filesystem = v
		case "PREFIX":
			e.prefix = v
		case "TYPE":
			if !strings.EqualFold(v, "tar") {
				err = &envError{fmt.Sprintf("TYPE=%q: this server writes tar only", v)}
			}
		case "HIST":
			switch strings.ToLower(v) {
			case "y", "yes", "t", "true", "1", "f", "file", "path":
				e.hist = histFile
			case "d", "dir", "dirnode", "node":
				e.hist = histDir
			case "n", "no", "false", "0", "":
				e.hist = histNone
			default:
				err = &envError{fmt.Sprintf("HIST=%q: want y (FH_ADD_FILE), d (FH_ADD_DIR and FH_ADD_NODE) or n", v)}
			}
		case "LEVEL":
			if strings.TrimSpace(v) != "0" {
				err = &envError{fmt.Sprintf("LEVEL=%q: only full backups (level 0) are supported", v)}
			}
		case "UPDATE":
			_, err = yesNo(name, v)
		case "DIRECT":
			e.direct, err = yesNo(name, v)
		case "RECURSIVE":
			e.recursive, err = yesNo(name, v)
		case "FILES":
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					e.files = append(e.files, f)
				}
			}
		case "EXCLUDE":
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					if _, perr := filepath.Match(p, ""); perr != nil {
						err = &envError{fmt.Sprintf("EXCLUDE=%q: %v", v, perr)}
					}
					e.exclude = append(e.exclude, p)
				}
			}
		case "USER":
			// The DMA's user name, informative only.
			keep = false
		default:
			err = &envError{fmt.Sprintf("environment variable %s is not supported by butype tar (known: FILESYSTEM, PREFIX, TYPE, HIST, LEVEL, UPDATE, DIRECT, RECURSIVE, FILES, EXCLUDE, USER)", pv.Name)}
		}
		if err != nil {
			return e, err
		}
		if keep {
			e.echo = append(e.echo, ndmp.Ndmp4_pval{Name: name, Value: v})
		}
	}
	if !recover && e.filesystem == "" {
		return e, &envError{"FILESYSTEM is required: the directory of this node to back up"}
	}
	return e, nil
}

// checkDir makes a FILESYSTEM or PREFIX absolute, clean and inside one of
// the server's data roots.
func (s *session) checkDir(what, dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", &envError{fmt.Sprintf("%s=%q: not an absolute path", what, dir)}
	}
	dir = filepath.Clean(dir)
	// Resolve symlinks of what exists so that a link cannot carry the path
	// out of the data roots.
	resolved := dir
	for p, rest := dir, ""; ; {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			resolved = filepath.Join(r, rest)
			break
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
	roots := s.srv.cfg.DataRoots
	if len(roots) == 0 {
		// No root, no DATA: an NDMP password must not be a way to read
		// every file of the node.
		return "", &envError{fmt.Sprintf("node %s backs up and recovers no directory (its agent has no -ndmp-data-root)", s.nodeName())}
	}
	for _, r := range roots {
		r = filepath.Clean(r)
		if rr, err := filepath.EvalSymlinks(r); err == nil {
			r = rr
		}
		if resolved == r || strings.HasPrefix(resolved, r+string(filepath.Separator)) || r == "/" {
			return resolved, nil
		}
	}
	return "", &envError{fmt.Sprintf("%s=%q is outside the directories this server backs up and recovers (%s)", what, dir, strings.Join(roots, ", "))}
}

// startCheck is what every DATA_START_* checks: butype, state.
func (d *dataState) startCheck(butype string) ndmp.Ndmp4_error {
	if butype != "tar" {
		return ndmp.NDMP4_ILLEGAL_ARGS_ERR
	}
	if d.state != ndmp.NDMP4_DATA_STATE_CONNECTED && d.state != ndmp.NDMP4_DATA_STATE_LISTEN {
		return ndmp.NDMP4_ILLEGAL_STATE_ERR
	}
	return ndmp.NDMP4_NO_ERR
}

// envRefused tells the DMA why its environment was refused.
func (s *session) envRefused(op string, err error) ndmp.Ndmp4_error {
	s.logMessage(ndmp.NDMP4_LOG_ERROR, "%s: %v", op, err)
	var ee *envError
	if errors.As(err, &ee) {
		return ndmp.NDMP4_ILLEGAL_ARGS_ERR
	}
	return ndmp.NDMP4_UNDEFINED_ERR
}

func dataStartBackup(_ context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	rq := req.Body.(*ndmp.Ndmp4_data_start_backup_request)
	reply := &ndmp.Ndmp4_data_start_backup_reply{}
	fail := func(code ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		reply.Error = code
		return reply, ndmp.NDMP4_NO_ERR
	}
	d := s.dataState()
	d.mu.Lock()
	defer d.mu.Unlock()
	if code := d.startCheck(rq.Butype_name); code != ndmp.NDMP4_NO_ERR {
		if code == ndmp.NDMP4_ILLEGAL_ARGS_ERR {
			s.logMessage(ndmp.NDMP4_LOG_ERROR, "DATA_START_BACKUP: butype %q: this server knows tar only", rq.Butype_name)
		}
		return fail(code)
	}
	env, err := parseEnv(rq.Env, false)
	if err != nil {
		return fail(s.envRefused("DATA_START_BACKUP", err))
	}
	root, err := s.checkDir("FILESYSTEM", env.filesystem)
	if err == nil {
		if fi, serr := os.Stat(root); serr != nil || !fi.IsDir() {
			err = &envError{fmt.Sprintf("FILESYSTEM=%q is not a directory of node %s", env.filesystem, s.nodeName())}
		}
	}
	if err != nil {
		return fail(s.envRefused("DATA_START_BACKUP", err))
	}
	d.env = env.echo
	d.start(s, ndmp.NDMP4_DATA_OP_BACKUP, func(ctx context.Context, c net.Conn) error {
		return d.backup(ctx, s, c, root, env)
	})
	return reply, ndmp.NDMP4_NO_ERR
}

func dataStartRecover(_ context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	return startRecover(s, req, ndmp.NDMP4_DATA_OP_RECOVER)
}

func dataStartRecoverFilehist(_ context.Context, s *session, req *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	return startRecover(s, req, ndmp.NDMP4_DATA_OP_RECOVER_FILEHIST)
}

func startRecover(s *session, req *ndmp.Message, op ndmp.Ndmp4_data_operation) (ndmp.Body, ndmp.Ndmp4_error) {
	rq := req.Body.(*ndmp.Ndmp4_data_start_recover_request)
	reply := &ndmp.Ndmp4_data_start_recover_reply{}
	fail := func(code ndmp.Ndmp4_error) (ndmp.Body, ndmp.Ndmp4_error) {
		reply.Error = code
		return reply, ndmp.NDMP4_NO_ERR
	}
	name := "DATA_START_RECOVER"
	if op == ndmp.NDMP4_DATA_OP_RECOVER_FILEHIST {
		name = "DATA_START_RECOVER_FILEHIST"
	}
	d := s.dataState()
	d.mu.Lock()
	defer d.mu.Unlock()
	if code := d.startCheck(rq.Butype_name); code != ndmp.NDMP4_NO_ERR {
		if code == ndmp.NDMP4_ILLEGAL_ARGS_ERR {
			s.logMessage(ndmp.NDMP4_LOG_ERROR, "%s: butype %q: this server knows tar only", name, rq.Butype_name)
		}
		return fail(code)
	}
	env, err := parseEnv(rq.Env, true)
	if err != nil {
		return fail(s.envRefused(name, err))
	}
	d.env = env.echo
	if op == ndmp.NDMP4_DATA_OP_RECOVER_FILEHIST {
		if env.hist == histNone {
			env.hist = histFile
		}
		d.start(s, op, func(ctx context.Context, c net.Conn) error {
			return d.recoverFilehist(ctx, s, c, env)
		})
		return reply, ndmp.NDMP4_NO_ERR
	}
	// Everything is restored under one directory: PREFIX, else
	// FILESYSTEM, else the destination paths are taken as they are.
	base := env.prefix
	if base == "" {
		base = env.filesystem
	}
	if base == "" {
		base = "/"
	}
	dest, err := s.checkDir("PREFIX", base)
	if err != nil {
		return fail(s.envRefused(name, err))
	}
	sel, names, err := selections(rq.Nlist, base, dest, env.direct)
	if err != nil {
		return fail(s.envRefused(name, err))
	}
	d.start(s, op, func(ctx context.Context, c net.Conn) error {
		return d.recover(ctx, s, c, dest, sel, names)
	})
	return reply, ndmp.NDMP4_NO_ERR
}

// selections turns an nlist into tarbackup selections under dest: each
// destination_path must lie inside base (the DMA's view of dest); an
// fh_info is kept only when DIRECT is on and it is a real offset.
func selections(nlist []ndmp.Ndmp4_name, base, dest string, direct bool) ([]tarbackup.Selection, []string, error) {
	var sel []tarbackup.Selection
	var names []string
	base = filepath.Clean(base)
	for _, n := range nlist {
		s := tarbackup.Selection{Name: n.Original_path, Offset: -1}
		if n.Destination_path != "" {
			dp := n.Destination_path
			if filepath.IsAbs(dp) {
				dp = filepath.Clean(dp)
				rel, err := filepath.Rel(base, dp)
				if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
					return nil, nil, &envError{fmt.Sprintf("destination %q is outside the recover's directory %s", n.Destination_path, base)}
				}
				dp = rel
			}
			s.Dest = filepath.ToSlash(dp)
		}
		// 0 is also the root's offset, which a sequential read reaches
		// first anyway; many DMAs send it for "unknown".
		if direct && n.Fh_info != invalidQuad && n.Fh_info != 0 && n.Fh_info < math.MaxInt64 {
			s.Offset = int64(n.Fh_info)
		}
		sel = append(sel, s)
		names = append(names, n.Original_path)
	}
	return sel, names, nil
}

// start runs fn on the data connection in a goroutine, now ACTIVE; d.mu is
// held.
func (d *dataState) start(s *session, op ndmp.Ndmp4_data_operation, fn func(ctx context.Context, c net.Conn) error) {
	ctx, cancel := context.WithCancel(s.ctx)
	d.op = op
	d.state = ndmp.NDMP4_DATA_STATE_ACTIVE
	d.halt = ndmp.NDMP4_DATA_HALT_NA
	d.prog = &tarbackup.Progress{}
	d.cancel = cancel
	d.done = make(chan struct{})
	conn, connCh := d.conn, d.connCh
	done := d.done
	go func() {
		defer close(done)
		defer cancel()
		c := conn
		if c == nil && connCh != nil {
			// TCP listen: the mover may connect after the start.
			select {
			case c = <-connCh:
			case <-ctx.Done():
			}
			if c == nil {
				d.halted(s, ndmp.NDMP4_DATA_HALT_CONNECT_ERROR, "no mover connected to the data connection")
				return
			}
			d.mu.Lock()
			d.conn = c
			d.mu.Unlock()
		}
		// Cancelling (DATA_ABORT, the session's end) closes the connection,
		// which unblocks the stream's reads and writes at once.
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		err := fn(ctx, c)
		c.Close()
		switch {
		case err == nil:
			d.halted(s, ndmp.NDMP4_DATA_HALT_SUCCESSFUL, "")
		case ctx.Err() != nil:
			d.halted(s, ndmp.NDMP4_DATA_HALT_ABORTED, "aborted")
		case errors.Is(err, errConnection):
			d.halted(s, ndmp.NDMP4_DATA_HALT_CONNECT_ERROR, err.Error())
		default:
			d.halted(s, ndmp.NDMP4_DATA_HALT_INTERNAL_ERROR, err.Error())
		}
	}()
}

// halted moves an operation to HALTED and tells the DMA, once.
func (d *dataState) halted(s *session, reason ndmp.Ndmp4_data_halt_reason, why string) {
	d.mu.Lock()
	if d.state == ndmp.NDMP4_DATA_STATE_HALTED || d.state == ndmp.NDMP4_DATA_STATE_IDLE {
		d.mu.Unlock()
		return
	}
	d.state, d.halt = ndmp.NDMP4_DATA_STATE_HALTED, reason
	d.closeConnLocked()
	d.mu.Unlock()
	s.log.Info("NDMP DATA halted", "reason", reason, "why", why)
	if s.ctx.Err() != nil {
		return // the session is ending: nobody to tell
	}
	if why != "" && reason != ndmp.NDMP4_DATA_HALT_SUCCESSFUL {
		lt := ndmp.NDMP4_LOG_ERROR
		if reason == ndmp.NDMP4_DATA_HALT_ABORTED {
			lt = ndmp.NDMP4_LOG_NORMAL
		}
		s.logMessage(lt, "DATA halted: %s", why)
	}
	_, _ = s.conn.Send(ndmp.NDMP4_NOTIFY_DATA_HALTED, &ndmp.Ndmp4_notify_data_halted_post{Reason: reason})
}

// closeConnLocked closes the data connection and listener; d.mu is held.
func (d *dataState) closeConnLocked() {
	if d.dropLocal != nil {
		d.dropLocal()
		d.dropLocal = nil
	}
	if d.ln != nil {
		d.ln.Close()
		d.ln = nil
	}
	if d.conn != nil {
		d.conn.Close()
		d.conn = nil
	}
	if d.connCh != nil {
		// A connection accepted but never used.
		select {
		case c, ok := <-d.connCh:
			if ok && c != nil {
				c.Close()
			}
		default:
		}
		d.connCh = nil
	}
}

func dataAbort(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	d := s.dataState()
	reply := &ndmp.Ndmp4_data_abort_reply{}
	d.mu.Lock()
	switch d.state {
	case ndmp.NDMP4_DATA_STATE_IDLE, ndmp.NDMP4_DATA_STATE_HALTED:
		d.mu.Unlock()
		reply.Error = ndmp.NDMP4_ILLEGAL_STATE_ERR
		return reply, ndmp.NDMP4_NO_ERR
	}
	cancel := d.cancel
	d.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	// HALTED at once, so that the DMA's next DATA_GET_STATE sees it; the
	// stream's goroutine finds the state halted and says nothing more.
	d.halted(s, ndmp.NDMP4_DATA_HALT_ABORTED, "")
	return reply, ndmp.NDMP4_NO_ERR
}

func dataStop(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	d := s.dataState()
	reply := &ndmp.Ndmp4_data_stop_reply{}
	d.mu.Lock()
	if d.state != ndmp.NDMP4_DATA_STATE_HALTED {
		d.mu.Unlock()
		reply.Error = ndmp.NDMP4_ILLEGAL_STATE_ERR
		return reply, ndmp.NDMP4_NO_ERR
	}
	done := d.done
	d.mu.Unlock()
	if done != nil {
		// The goroutine is past its work (the state is HALTED); it only
		// has its notification left to send.
		<-done
	}
	d.mu.Lock()
	d.reset()
	d.mu.Unlock()
	return reply, ndmp.NDMP4_NO_ERR
}

// reset returns to IDLE; d.mu is held.
func (d *dataState) reset() {
	d.closeConnLocked()
	d.state, d.op, d.halt = ndmp.NDMP4_DATA_STATE_IDLE, ndmp.NDMP4_DATA_OP_NOACTION, ndmp.NDMP4_DATA_HALT_NA
	d.addr = ndmp.Ndmp4_addr{}
	d.env, d.prog = nil, nil
	d.readOffset, d.readLength = 0, 0
	d.cancel, d.done = nil, nil
}

func dataGetEnv(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	d := s.dataState()
	reply := &ndmp.Ndmp4_data_get_env_reply{}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == ndmp.NDMP4_DATA_STATE_IDLE || d.op != ndmp.NDMP4_DATA_OP_BACKUP {
		reply.Error = ndmp.NDMP4_ILLEGAL_STATE_ERR
		return reply, ndmp.NDMP4_NO_ERR
	}
	reply.Env = append([]ndmp.Ndmp4_pval(nil), d.env...)
	return reply, ndmp.NDMP4_NO_ERR
}

// shutdown ends whatever runs when the session ends.
func (d *dataState) shutdown() {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.closeConnLocked()
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		// The stream stops at once; a post it is sending to a DMA that
		// stopped reading ends when the session closes the control
		// connection, after the closers: do not wait for that.
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
}

// errConnection marks a failure of the data connection (the mover went
// away), as opposed to one of this node's files.
var errConnection = errors.New("data connection")

// connWriter reports write errors as errConnection.
type connWriter struct{ c net.Conn }

func (w connWriter) Write(p []byte) (int, error) {
	n, err := w.c.Write(p)
	if err != nil {
		err = fmt.Errorf("%w: %w", errConnection, err)
	}
	return n, err
}

// backup runs a backup into the data connection c.
func (d *dataState) backup(ctx context.Context, s *session, c net.Conn, root string, env dataEnv) error {
	fh := newFHPoster(s, env.hist)
	opts := tarbackup.BackupOptions{
		Files:     env.files,
		Exclude:   env.exclude,
		NoRecurse: !env.recursive,
		Progress:  d.prog,
		Skipped: func(name string, err error) {
			s.logMessage(ndmp.NDMP4_LOG_WARNING, "backup: %s skipped: %v", name, err)
		},
	}
	if env.hist != histNone {
		opts.FileHistory = fh.add
	}
	start := time.Now()
	res, err := tarbackup.Backup(ctx, root, connWriter{c}, opts)
	if ferr := fh.flush(); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	// A clean end of stream (FIN) lets the mover write its last record.
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	secs := time.Since(start).Seconds()
	s.logMessage(ndmp.NDMP4_LOG_NORMAL, "backup of %s on %s: %d entries, %d bytes in %.1fs (%.1f MB/s)",
		root, s.nodeName(), res.Entries, res.Bytes, secs, float64(res.Bytes)/1e6/max(secs, 1e-3))
	return nil
}

// recover restores sel (everything when empty) under dest from c, asking
// the DMA for the parts of the tape it needs with NOTIFY_DATA_READ.
func (d *dataState) recover(ctx context.Context, s *session, c net.Conn, dest string, sel []tarbackup.Selection, names []string) error {
	src := &moverRanges{s: s, d: d, br: bufio.NewReaderSize(c, 1<<20)}
	opts := tarbackup.RecoverOptions{
		Select:   sel,
		Progress: d.prog,
		Skipped: func(name string, err error) {
			s.logMessage(ndmp.NDMP4_LOG_WARNING, "recover: %s not restored: %v", name, err)
		},
		Done: func(i int, err error) {
			st := recoveryStatus(err)
			if err != nil {
				s.logMessage(ndmp.NDMP4_LOG_ERROR, "recover: %s: %v", names[i], err)
			}
			_, _ = s.conn.Send(ndmp.NDMP4_LOG_FILE, &ndmp.Ndmp4_log_file_post{Name: names[i], Recovery_status: st})
		},
	}
	start := time.Now()
	res, err := tarbackup.RecoverDirect(ctx, src, dest, opts)
	if err != nil {
		if src.connErr != nil {
			return fmt.Errorf("%w: %w", errConnection, err)
		}
		return err
	}
	secs := time.Since(start).Seconds()
	s.logMessage(ndmp.NDMP4_LOG_NORMAL, "recover into %s on %s: %d entries, %d bytes read in %.1fs",
		dest, s.nodeName(), res.Entries, res.Bytes, secs)
	return nil
}

// recoverFilehist reads a whole backup and posts its file history, restoring
// nothing: a DMA rebuilding a lost index.
func (d *dataState) recoverFilehist(ctx context.Context, s *session, c net.Conn, env dataEnv) error {
	src := &moverRanges{s: s, d: d, br: bufio.NewReaderSize(c, 1<<20)}
	r, err := src.ReadRange(ctx, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	fh := newFHPoster(s, histFile)
	_, err = tarbackup.List(ctx, r, d.prog, fh.add)
	if ferr := fh.flush(); err == nil {
		err = ferr
	}
	return err
}

func recoveryStatus(err error) ndmp.Ndmp4_recovery_status {
	switch {
	case err == nil:
		return ndmp.NDMP4_RECOVERY_SUCCESSFUL
	case errors.Is(err, tarbackup.ErrNotFound):
		return ndmp.NDMP4_RECOVERY_FAILED_NOT_FOUND
	case errors.Is(err, fs.ErrPermission):
		return ndmp.NDMP4_RECOVERY_FAILED_PERMISSION
	case errors.Is(err, fs.ErrNotExist):
		return ndmp.NDMP4_RECOVERY_FAILED_NO_DIRECTORY
	default:
		return ndmp.NDMP4_RECOVERY_FAILED_IO_ERROR
	}
}

// moverRanges is tarbackup's RangeSource over the data connection: each
// range is asked of the DMA with NOTIFY_DATA_READ, which it passes to the
// mover as MOVER_READ; the mover then sends exactly those bytes.
type moverRanges struct {
	s       *session
	d       *dataState
	br      *bufio.Reader
	cur     *io.LimitedReader
	connErr error
}

// maxDrain bounds what is read and thrown away of a range before the next
// one is asked for; a range that large was a whole-stream read.
const maxDrain = 64 << 20

func (m *moverRanges) ReadRange(ctx context.Context, off, n int64) (io.Reader, error) {
	if m.cur != nil && m.cur.N > 0 {
		// The mover sends every byte of a range: what the restore did not
		// need must be read before the next range's first byte.
		if m.cur.N > maxDrain {
			return nil, fmt.Errorf("%w: %d bytes of the previous range unread", errConnection, m.cur.N)
		}
		if _, err := io.Copy(io.Discard, m.cur); err != nil {
			return nil, err
		}
	}
	m.d.mu.Lock()
	m.d.readOffset, m.d.readLength = uint64(off), uint64(n)
	m.d.mu.Unlock()
	if _, err := m.s.conn.Send(ndmp.NDMP4_NOTIFY_DATA_READ, &ndmp.Ndmp4_notify_data_read_post{Offset: uint64(off), Length: uint64(n)}); err != nil {
		return nil, fmt.Errorf("NOTIFY_DATA_READ: %w", err)
	}
	m.cur = &io.LimitedReader{R: connReader{m}, N: n}
	return m.cur, nil
}

// connReader notes data connection errors.
type connReader struct{ m *moverRanges }

func (r connReader) Read(p []byte) (int, error) {
	n, err := r.m.br.Read(p)
	if err != nil && err != io.EOF {
		r.m.connErr = err
	}
	return n, err
}

// fhPoster batches file history into FH_ADD_FILE, or FH_ADD_DIR and
// FH_ADD_NODE, posts. It runs on the stream's goroutine.
type fhPoster struct {
	s      *session
	mode   histMode
	files  []ndmp.Ndmp4_file
	dirs   []ndmp.Ndmp4_dir
	nodes  []ndmp.Ndmp4_node
	rooted bool
}

func newFHPoster(s *session, mode histMode) *fhPoster { return &fhPoster{s: s, mode: mode} }

func (f *fhPoster) add(e tarbackup.Entry) error {
	st := fileStat(e)
	switch f.mode {
	case histFile:
		name := "/"
		if e.Name != "." {
			name = "/" + e.Name
		}
		f.files = append(f.files, ndmp.Ndmp4_file{
			Names:   []ndmp.Ndmp4_file_name{unixName(name)},
			Stats:   []ndmp.Ndmp4_file_stat{st},
			Node:    e.Ino,
			Fh_info: uint64(e.Offset),
		})
	case histDir:
		if e.Name == "." {
			// The root first, as "." and "..", both its own parent: how
			// a DMA recognises the root node of the directory tree.
			f.dirs = append(f.dirs,
				ndmp.Ndmp4_dir{Names: []ndmp.Ndmp4_file_name{unixName(".")}, Node: e.Ino, Parent: e.Ino},
				ndmp.Ndmp4_dir{Names: []ndmp.Ndmp4_file_name{unixName("..")}, Node: e.Ino, Parent: e.Ino})
		} else {
			f.dirs = append(f.dirs, ndmp.Ndmp4_dir{Names: []ndmp.Ndmp4_file_name{unixName(filepath.Base(e.Name))}, Node: e.Ino, Parent: e.ParentIno})
		}
		if e.Header.Typeflag != '1' { // a hard link's inode was posted with its first name
			f.nodes = append(f.nodes, ndmp.Ndmp4_node{Stats: []ndmp.Ndmp4_file_stat{st}, Node: e.Ino, Fh_info: uint64(e.Offset)})
		}
	default:
		return nil
	}
	if len(f.files)+len(f.nodes) >= fhBatch {
		return f.flush()
	}
	return nil
}

// flush posts what is batched: directories before the nodes they name.
func (f *fhPoster) flush() error {
	if len(f.files) > 0 {
		if _, err := f.s.conn.Send(ndmp.NDMP4_FH_ADD_FILE, &ndmp.Ndmp4_fh_add_file_post{Files: f.files}); err != nil {
			return fmt.Errorf("FH_ADD_FILE: %w", err)
		}
		f.files = nil
	}
	if len(f.dirs) > 0 {
		if _, err := f.s.conn.Send(ndmp.NDMP4_FH_ADD_DIR, &ndmp.Ndmp4_fh_add_dir_post{Dirs: f.dirs}); err != nil {
			return fmt.Errorf("FH_ADD_DIR: %w", err)
		}
		f.dirs = nil
	}
	if len(f.nodes) > 0 {
		if _, err := f.s.conn.Send(ndmp.NDMP4_FH_ADD_NODE, &ndmp.Ndmp4_fh_add_node_post{Nodes: f.nodes}); err != nil {
			return fmt.Errorf("FH_ADD_NODE: %w", err)
		}
		f.nodes = nil
	}
	return nil
}

func unixName(name string) ndmp.Ndmp4_file_name {
	n := ndmp.Ndmp4_file_name{Fs_type: ndmp.NDMP4_FS_UNIX}
	*n.Unix_name() = ndmp.Ndmp4_path(name)
	return n
}

// fileStat is an entry's stat as NDMP v4 carries it (times in seconds).
func fileStat(e tarbackup.Entry) ndmp.Ndmp4_file_stat {
	h := e.Header
	st := ndmp.Ndmp4_file_stat{
		Fs_type: ndmp.NDMP4_FS_UNIX,
		Mtime:   uint32(h.ModTime.Unix()),
		Atime:   uint32(e.Atime.Unix()),
		Ctime:   uint32(e.Ctime.Unix()),
		Owner:   uint32(h.Uid),
		Group:   uint32(h.Gid),
		Fattr:   uint32(h.Mode & 07777),
		Size:    uint64(h.Size),
		Links:   uint32(e.Nlink),
	}
	if e.Atime.IsZero() {
		st.Unsupported |= ndmp.NDMP4_FILE_STAT_ATIME_UNS | ndmp.NDMP4_FILE_STAT_CTIME_UNS
		st.Atime, st.Ctime = 0, 0
	}
	switch h.Typeflag {
	case '5':
		st.Ftype = ndmp.NDMP4_FILE_DIR
	case '2':
		st.Ftype = ndmp.NDMP4_FILE_SLINK
		st.Size = uint64(len(h.Linkname))
	case '6':
		st.Ftype = ndmp.NDMP4_FILE_FIFO
	case '3':
		st.Ftype = ndmp.NDMP4_FILE_CSPEC
	case '4':
		st.Ftype = ndmp.NDMP4_FILE_BSPEC
	default:
		st.Ftype = ndmp.NDMP4_FILE_REG
	}
	return st
}

// nodeName names this node in messages to the DMA.
func (s *session) nodeName() string {
	if s.srv.cfg.Cluster != nil {
		return s.srv.cfg.Cluster.NodeName()
	}
	return "this node"
}
