package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/internal/localcluster"
)

// exitTimeout bounds how long a node that must refuse to start may run.
const exitTimeout = 30 * time.Second

// waitExit waits for the node's process to end and returns its exit error
// and its log; it fails the test if the process keeps running.
func waitExit(t *testing.T, c *localcluster.Cluster, name string) (error, string) {
	t.Helper()
	n, err := c.Node(name)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.Exited():
	case <-time.After(exitTimeout):
		t.Fatalf("%s still runs after %v, want it to exit", name, exitTimeout)
	}
	log, err := os.ReadFile(n.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return n.ExitErr(), string(log)
}

// checkRefused asserts a non-zero exit without a panic or stack dump, with
// a log that mentions want.
func checkRefused(t *testing.T, exitErr error, log, want string) {
	t.Helper()
	var exit *exec.ExitError
	if !errors.As(exitErr, &exit) || exit.ExitCode() <= 0 {
		t.Errorf("exit = %v, want a non-zero exit status", exitErr)
	}
	for _, bad := range []string{"panic:", "goroutine "} {
		if strings.Contains(log, bad) {
			t.Errorf("log contains %q:\n%s", bad, log)
		}
	}
	if !strings.Contains(strings.ToLower(log), strings.ToLower(want)) {
		t.Errorf("log does not mention %q:\n%s", want, log)
	}
}

// TestDuplicateNodeNameRefused starts a second process under a live node's
// name: it must exit non-zero, and the live node must stay ready.
func TestDuplicateNodeNameRefused(t *testing.T) {
	c := startCluster(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.StartNode(ctx, localcluster.StartOptions{Name: "impostor", NodeName: "n1", Join: []string{"n1"}}); err != nil {
		t.Fatal(err)
	}
	exitErr, log := waitExit(t, c, "impostor")
	checkRefused(t, exitErr, log, "n1")
	if err := c.WaitReady(ctx, "n1"); err != nil {
		t.Errorf("n1 after the impostor: %v", err)
	}
}

// TestCorruptDataFileRefused starts agents on data files that are not
// databases: each must exit non-zero with a message naming the file.
func TestCorruptDataFileRefused(t *testing.T) {
	random := make([]byte, 64<<10)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"random", random},
		{"zeros", make([]byte, 16<<10)},
		{"text", bytes.Repeat([]byte("not a database\n"), 500)},
	}
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "corrupt-" + tt.name
			dir := c.DataDir(name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, cluster.LogFileName), tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Start(ctx, name); err != nil {
				t.Fatal(err)
			}
			exitErr, log := waitExit(t, c, name)
			checkRefused(t, exitErr, log, cluster.LogFileName)
		})
	}
}
