package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// portal is one iSCSI target under test: where it listens, its name, and
// the LUNs serving the source (random data), destination and conformance
// files.
type portal struct {
	name                    string
	addr, iqn               string
	srcLUN, dstLUN, confLUN uint32
}

// url is libiscsi's URL of one of the portal's LUNs.
func (p portal) url(lun uint32) string {
	return fmt.Sprintf("iscsi://%s/%s/%d", p.addr, p.iqn, lun)
}

var (
	lsTarget = regexp.MustCompile(`(?m)^Target:(\S+)`)
	lsLUN    = regexp.MustCompile(`(?m)^Lun:(\d+)\s+Type:DIRECT_ACCESS`)
)

// waitISCSILs polls `iscsi-ls -s` on addr until it shows every LUN, and
// returns the target's name.
func waitISCSILs(ctx context.Context, addr string, luns ...uint32) (string, error) {
	var last string
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := exec.CommandContext(cctx, "iscsi-ls", "-s", "iscsi://"+addr).CombinedOutput()
		cancel()
		last = string(out)
		if err == nil {
			if m := lsTarget.FindStringSubmatch(last); m != nil && showsAll(last, luns) {
				return m[1], nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for iscsi-ls to show LUNs %v on %s: %w (it said %q)", luns, addr, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func showsAll(ls string, luns []uint32) bool {
	seen := map[uint32]bool{}
	for _, m := range lsLUN.FindAllStringSubmatch(ls, -1) {
		if n, err := strconv.ParseUint(m[1], 10, 32); err == nil {
			seen[uint32(n)] = true
		}
	}
	for _, l := range luns {
		if !seen[l] {
			return false
		}
	}
	return true
}
