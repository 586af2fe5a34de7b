package main

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"time"

	"github.com/ferry-san/ferry/internal/cunit"
)

// conformanceTimeout bounds one whole-suite run; the suite takes a few
// minutes at most, so this is a hang detector.
const conformanceTimeout = 20 * time.Minute

// conformanceResult is one target's run of libiscsi's whole suite.
type conformanceResult struct {
	target                  string
	wall                    time.Duration
	passed, skipped, failed int
	run                     cunit.Run
}

// timeConformance runs `iscsi-test-cu -V --dataloss --test=ALL` on the
// portal's conformance LUN, with mp's as the multipath URL (Ferry's
// through another node, tgtd's through the same portal again), as
// test/iscsi_all_test.go does, and returns its wall time and real outcomes
// (skips counted apart from passes).
func timeConformance(ctx context.Context, p, mp portal, log *slog.Logger) (conformanceResult, error) {
	ctx, cancel := context.WithTimeout(ctx, conformanceTimeout)
	defer cancel()
	url := p.url(p.confLUN)
	log.Info("running libiscsi's whole suite", "target", p.name, "url", url)
	start := time.Now()
	// The exit status says only that some test failed: the report tells.
	out, err := exec.CommandContext(ctx, "iscsi-test-cu", "-V", "--dataloss", "--test=ALL", url, mp.url(mp.confLUN)).CombinedOutput()
	wall := time.Since(start)
	if ctx.Err() != nil {
		return conformanceResult{}, fmt.Errorf("iscsi-test-cu --test=ALL %s: %w", url, ctx.Err())
	}
	run, perr := cunit.ParseLibiscsi(out)
	if perr != nil {
		return conformanceResult{}, fmt.Errorf("iscsi-test-cu --test=ALL %s (%v): %w", url, err, perr)
	}
	r := conformanceResult{target: p.name, wall: wall, run: run}
	r.passed, r.skipped, r.failed = run.Count()
	log.Info("whole suite", "target", p.name, "wall", wall.Round(time.Millisecond), "passed", r.passed, "skipped", r.skipped, "failed", r.failed)
	return r, nil
}
