package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/internal/localcluster"
)

// etcdSystem starts a three-member etcd cluster under dir and returns it as
// a system whose op puts a value of the Ferry job spec's size.
func etcdSystem(ctx context.Context, o options, dir string, log *slog.Logger) (*system, error) {
	bin, err := etcdBinary(ctx, o.etcdBinary, log)
	if err != nil {
		return nil, err
	}
	members, err := startEtcd(ctx, bin, filepath.Join(dir, "etcd-cluster"), 3, log)
	if err != nil {
		stopEtcd(members)
		return nil, err
	}
	var endpoints []string
	for _, m := range members {
		endpoints = append(endpoints, m.clientURL)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		stopEtcd(members)
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	if err := waitEtcdLeader(ctx, cli, endpoints); err != nil {
		cli.Close()
		stopEtcd(members)
		return nil, errors.Join(err, etcdLogs(members))
	}
	size := o.valueSize
	if size == 0 {
		size = proto.Size(localcluster.SampleSpec(0))
	}
	value := strings.Repeat("v", size)
	put := func(ctx context.Context, run, worker, seq int) error {
		_, err := cli.Put(ctx, fmt.Sprintf("bench/%d/%d/%d", run, worker, seq), value)
		return err
	}
	return &system{name: etcdName, do: put, close: func() { cli.Close(); stopEtcd(members) }}, nil
}

// etcdBinary finds etcd, installing Debian's etcd-server package when it is
// missing and bench runs as root.
func etcdBinary(ctx context.Context, name string, log *slog.Logger) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	if name != "etcd" {
		return "", fmt.Errorf("etcd binary %q not found", name)
	}
	if os.Geteuid() != 0 {
		return "", errors.New("etcd not found and not root: apt-get install etcd-server")
	}
	log.Info("installing etcd-server with apt-get")
	install := func() error {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-qq", "etcd-server")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install etcd-server: %w\n%s", err, out)
		}
		return nil
	}
	if err := install(); err != nil {
		update := exec.CommandContext(ctx, "apt-get", "update", "-qq")
		if out, uerr := update.CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("apt-get update: %w\n%s", uerr, out)
		}
		if err := install(); err != nil {
			return "", err
		}
	}
	return exec.LookPath(name)
}

// etcdMember is one etcd process.
type etcdMember struct {
	name      string
	clientURL string
	logPath   string
	cmd       *exec.Cmd
	done      chan struct{}
}

func startEtcd(ctx context.Context, bin, dir string, n int, log *slog.Logger) ([]*etcdMember, error) {
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range n {
		initial = append(initial, fmt.Sprintf("e%d=http://127.0.0.1:%d", i+1, ports[2*i+1]))
	}
	var members []*etcdMember
	for i := range n {
		name := fmt.Sprintf("e%d", i+1)
		client := "http://127.0.0.1:" + strconv.Itoa(ports[2*i])
		peer := "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1])
		m := &etcdMember{name: name, clientURL: client, logPath: filepath.Join(dir, name+".log"), done: make(chan struct{})}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return members, err
		}
		logFile, err := os.Create(m.logPath)
		if err != nil {
			return members, err
		}
		m.cmd = exec.Command(bin,
			"--name", name,
			"--data-dir", filepath.Join(dir, name),
			"--listen-client-urls", client,
			"--advertise-client-urls", client,
			"--listen-peer-urls", peer,
			"--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","),
			"--initial-cluster-token", "ferry-bench",
			"--initial-cluster-state", "new",
			"--logger", "zap",
			"--log-level", "warn",
		)
		m.cmd.Stdout = logFile
		m.cmd.Stderr = logFile
		m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := m.cmd.Start(); err != nil {
			logFile.Close()
			return members, fmt.Errorf("start %s: %w", name, err)
		}
		go func() {
			m.cmd.Wait()
			logFile.Close()
			close(m.done)
		}()
		members = append(members, m)
		log.Info("started etcd member", "name", name, "pid", m.cmd.Process.Pid, "client", client, "peer", peer)
	}
	return members, nil
}

func waitEtcdLeader(ctx context.Context, cli *clientv3.Client, endpoints []string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		ready := 0
		for _, ep := range endpoints {
			sctx, scancel := context.WithTimeout(ctx, time.Second)
			st, err := cli.Status(sctx, ep)
			scancel()
			if err == nil && st.Leader != 0 {
				ready++
			}
		}
		if ready == len(endpoints) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd has no leader: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func stopEtcd(members []*etcdMember) {
	for _, m := range members {
		m.cmd.Process.Kill()
	}
	for _, m := range members {
		<-m.done
	}
}

func etcdLogs(members []*etcdMember) error {
	var b strings.Builder
	for _, m := range members {
		data, _ := os.ReadFile(m.logPath)
		fmt.Fprintf(&b, "----- %s -----\n%s\n", m.name, data)
	}
	return errors.New(b.String())
}

// freePorts returns n distinct free loopback TCP ports, holding each until
// all are chosen so none is handed out twice.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
