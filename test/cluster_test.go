package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
)

// keepDirEnv names a directory under which each test keeps its nodes' data
// and logs, for debugging, instead of a temporary directory.
const keepDirEnv = "FERRY_TEST_DIR"

// logLevelEnv sets the agents' -log-level (default info).
const logLevelEnv = "FERRY_TEST_LOG_LEVEL"

// Generous deadlines: they bound a hung test, they are not expectations.
const (
	startTimeout = 60 * time.Second
	logTail      = 60
)

// newCluster prepares an empty cluster whose processes die with the test and
// whose logs are printed if the test fails.
func newCluster(t *testing.T) *localcluster.Cluster {
	t.Helper()
	// These tests are about the cluster core: the nodes replicate jobs but
	// run none, so that copies do not compete with the load under test.
	return newClusterWith(t, localcluster.Config{ExtraArgs: []string{"-run-jobs=false"}})
}

// newClusterWith is newCluster with cfg (its Binary, Dir and LogLevel are
// the test's).
func newClusterWith(t *testing.T, cfg localcluster.Config) *localcluster.Cluster {
	t.Helper()
	dir := t.TempDir()
	if keep := os.Getenv(keepDirEnv); keep != "" {
		dir = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Binary, cfg.Dir, cfg.LogLevel = ferryBinary, dir, os.Getenv(logLevelEnv)
	c, err := localcluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log("\n" + c.Tails(logTail))
		}
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return c
}

// nodeNames is n1..nN.
func nodeNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i+1)
	}
	return names
}

// startCluster starts n nodes (startNodes) and registers the sample
// devices through n1.
func startCluster(t *testing.T, n int) *localcluster.Cluster {
	t.Helper()
	c := newCluster(t)
	names := nodeNames(n)
	startNodes(t, c, names)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.RegisterSampleDevices(ctx, names[0]); err != nil {
		t.Fatalf("register the sample devices: %v", err)
	}
	return c
}

// startNodes starts the named nodes of c (the first bootstraps, the rest
// join it) and waits until all are ready and, for up to three nodes, all
// are voters.
func startNodes(t *testing.T, c *localcluster.Cluster, names []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := c.Start(ctx, names[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, names[0]); err != nil {
		t.Fatal(err)
	}
	for _, name := range names[1:] {
		if _, err := c.Start(ctx, name, names[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if len(names) <= 3 {
		if _, err := c.WaitVoters(ctx, names...); err != nil {
			t.Fatal(err)
		}
	}
}

// others is names without skip.
func others(names []string, skip string) []string {
	var out []string
	for _, n := range names {
		if n != skip {
			out = append(out, n)
		}
	}
	return out
}
