package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tgtdIQN is the name of the target tgtd serves.
const tgtdIQN = "iqn.2026-11.io.ferry:tgtd-bench"

// tgtd is Debian's SCSI target daemon in the foreground, serving the same
// files as Ferry (LUN 1 the source, LUN 2 the destination) and a
// conformance LUN of its own (LUN 3) on its own loopback port.
type tgtd struct {
	cmd     *exec.Cmd
	addr    string
	control string // tgtd's -C, which keeps its management socket apart from any system tgtd
	done    chan struct{}
}

// startTgtd installs tgt when tgtd is missing and we are root, starts
// tgtd on a free port and configures its target.
func startTgtd(ctx context.Context, src, dst, conf string, log *slog.Logger) (*tgtd, error) {
	if err := ensureTgt(ctx, log); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	t := &tgtd{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		control: strconv.Itoa(1000 + os.Getpid()%30000), done: make(chan struct{})}
	t.cmd = exec.Command("tgtd", "-f", "-C", t.control, "--iscsi", "portal="+t.addr)
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logBuf strings.Builder
	t.cmd.Stdout, t.cmd.Stderr = &logBuf, &logBuf
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tgtd: %w", err)
	}
	go func() { t.cmd.Wait(); close(t.done) }()
	log.Info("started tgtd", "pid", t.cmd.Process.Pid, "portal", t.addr)
	if err := t.configure(ctx, src, dst, conf); err != nil {
		t.Close()
		return nil, fmt.Errorf("%w (tgtd said %q)", err, logBuf.String())
	}
	return t, nil
}

func ensureTgt(ctx context.Context, log *slog.Logger) error {
	if _, err := exec.LookPath("tgtd"); err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("tgtd is not installed and we are not root to apt-get install tgt")
	}
	log.Info("installing tgt")
	if out, err := exec.CommandContext(ctx, "apt-get", "install", "-y", "tgt").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install -y tgt: %w: %s", err, out)
	}
	return nil
}

// configure creates the target and its LUNs, retrying while tgtd's
// management socket is not up yet, and waits until iscsi-ls shows them.
func (t *tgtd) configure(ctx context.Context, src, dst, conf string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	steps := [][]string{
		{"--op", "new", "--mode", "target", "--tid", "1", "-T", tgtdIQN},
		{"--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", src},
		{"--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "-b", dst},
		{"--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "3", "-b", conf},
		{"--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"},
	}
	for i, s := range steps {
		args := append([]string{"-C", t.control, "--lld", "iscsi"}, s...)
		for {
			out, err := exec.CommandContext(ctx, "tgtadm", args...).CombinedOutput()
			if err == nil {
				break
			}
			// Only the first step can race tgtd's start.
			if i > 0 || ctx.Err() != nil {
				return fmt.Errorf("tgtadm %s: %w: %s", strings.Join(args, " "), err, out)
			}
			select {
			case <-t.done:
				return errors.New("tgtd exited")
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	_, err := waitISCSILs(ctx, t.addr, 1, 2, 3)
	return err
}

func (t *tgtd) portal() portal {
	return portal{name: "tgtd", addr: t.addr, iqn: tgtdIQN, srcLUN: 1, dstLUN: 2, confLUN: 3}
}

// Close kills tgtd's process group and waits for it.
func (t *tgtd) Close() error {
	syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-t.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("tgtd (pid %d) did not exit", t.cmd.Process.Pid)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
