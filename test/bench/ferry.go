package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// startTimeout bounds starting either cluster.
const startTimeout = time.Minute

// ferrySystem starts a three-node Ferry cluster under dir, secure (mutual
// TLS between the nodes and from the clients, encrypted gossip, ACLs
// bootstrapped and every call carrying the token) unless plaintext, and
// returns it as a system whose op submits a job through the nodes in turn.
func ferrySystem(ctx context.Context, o options, dir string, plaintext bool, log *slog.Logger) (*system, error) {
	bin := o.ferryBinary
	if bin == "" {
		bin = filepath.Join(dir, "ferry")
		if _, err := os.Stat(bin); err != nil {
			log.Info("building ferry", "out", bin)
			build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/ferry")
			build.Stderr = os.Stderr
			if err := build.Run(); err != nil {
				return nil, fmt.Errorf("go build ./cmd/ferry: %w", err)
			}
		}
	}
	name, label := "ferry-cluster", ferryName
	if plaintext {
		name, label = "ferry-plaintext-cluster", plaintextName
	}
	c, err := localcluster.New(localcluster.Config{
		Binary:   bin,
		Dir:      filepath.Join(dir, name),
		Insecure: plaintext,  // the baseline the secure path is measured against
		ACL:      !plaintext, // a secure cluster bootstraps ACLs: every call sends the token
		LogLevel: "warn",
		Logger:   log,
		// Submissions are measured, not copies: the nodes run no jobs.
		ExtraArgs: []string{"-run-jobs=false"},
	})
	if err != nil {
		return nil, err
	}
	nodes := []string{"n1", "n2", "n3"}
	if err := startFerry(ctx, c, nodes); err != nil {
		fmt.Fprint(os.Stderr, c.Tails(30))
		c.Close()
		return nil, err
	}
	clients := make([]ferryv1.JobServiceClient, len(nodes))
	for i, name := range nodes {
		cl, err := c.Client(name)
		if err != nil {
			c.Close()
			return nil, err
		}
		clients[i] = cl.Jobs
	}
	submit := func(ctx context.Context, run, worker, seq int) error {
		// Every request goes to the next node, as etcd's client balances
		// round robin over its endpoints.
		_, err := clients[(worker+seq)%len(clients)].Submit(ctx, &ferryv1.SubmitJobRequest{
			Spec:           localcluster.SampleSpec(seq),
			IdempotencyKey: fmt.Sprintf("bench-%d-%d-%d", run, worker, seq),
		})
		return err
	}
	closeCluster := func() {
		logAudit(ctx, c, nodes, label, log)
		c.Close()
	}
	return &system{name: label, do: submit, close: closeCluster}, nil
}

// logAudit logs what the audit trail cost the run: the records of the
// submissions, and the Raft entries they took (the nodes batch them).
func logAudit(ctx context.Context, c *localcluster.Cluster, nodes []string, label string, log *slog.Logger) {
	sums := map[string]float64{}
	for _, n := range nodes {
		for _, m := range []string{"ferry_audit_records_total", "ferry_audit_batches_total", "ferry_audit_dropped_total"} {
			mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			v, err := c.Metric(mctx, n, m)
			cancel()
			if err != nil {
				log.Warn("audit metrics", "system", label, "err", err)
				return
			}
			sums[m] += v
		}
	}
	records, entries := sums["ferry_audit_records_total"], sums["ferry_audit_batches_total"]
	log.Info("audit trail", "system", label, "records", records, "raft_entries", entries,
		"records_per_entry", fmt.Sprintf("%.1f", records/max(entries, 1)), "dropped", sums["ferry_audit_dropped_total"])
}

func startFerry(ctx context.Context, c *localcluster.Cluster, nodes []string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if _, err := c.Start(ctx, nodes[0]); err != nil {
		return err
	}
	if err := c.WaitReady(ctx, nodes[0]); err != nil {
		return err
	}
	for _, name := range nodes[1:] {
		if _, err := c.Start(ctx, name, nodes[0]); err != nil {
			return err
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		return err
	}
	if _, err := c.WaitVoters(ctx, nodes...); err != nil {
		return err
	}
	return c.RegisterSampleDevices(ctx, nodes[0])
}
