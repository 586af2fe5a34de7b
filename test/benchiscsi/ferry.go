package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// startTimeout bounds starting the node and registering its disks.
const startTimeout = 2 * time.Minute

// conformanceBytes is the size of the LUN the conformance suite runs on,
// as in the conformance test.
const conformanceBytes = 256 << 20

// ferryNode is a cluster of two `ferry agent`s, n1 (the one voter) and n2
// (a learner: it applies the same state and serves the same LUNs through
// its own portal), with three disk LUNs: src of random data, dst of zeros,
// both o.size bytes, and conf, 256 MiB for the conformance suite. The
// comparisons with tgtd go through n1's portal; n2's is the second path.
type ferryNode struct {
	c                          *localcluster.Cluster
	addr, addr2, iqn           string
	src, dst, conf             *ferryv1.Disk
	srcPath, dstPath, confPath string
	srcSum                     string // SHA-256 of src's data, hex
}

// startFerry starts nodes n1 and n2 in dir and registers the disks.
func startFerry(ctx context.Context, o options, dir string, log *slog.Logger) (*ferryNode, error) {
	c, err := localcluster.New(localcluster.Config{Binary: o.ferryBinary, Dir: filepath.Join(dir, "nodes"), Voters: 1, Logger: log})
	if err != nil {
		return nil, err
	}
	f := &ferryNode{c: c, srcPath: filepath.Join(dir, "src.img"), dstPath: filepath.Join(dir, "dst.img"),
		confPath: filepath.Join(dir, "conf.img")}
	if err := f.start(ctx, o, log); err != nil {
		fmt.Fprint(os.Stderr, c.Tails(30))
		c.Close()
		return nil, err
	}
	return f, nil
}

func (f *ferryNode) start(ctx context.Context, o options, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	n, err := f.c.Start(ctx, "n1")
	if err != nil {
		return err
	}
	if err := f.c.WaitReady(ctx, "n1"); err != nil {
		return err
	}
	n2, err := f.c.StartNode(ctx, localcluster.StartOptions{Name: "n2", Join: []string{"n1"}})
	if err != nil {
		return err
	}
	if err := f.c.WaitReady(ctx, "n2"); err != nil {
		return err
	}
	f.addr, f.addr2 = n.ISCSIAddr(), n2.ISCSIAddr()
	log.Info("writing the source LUN's random data", "path", f.srcPath, "bytes", o.size)
	if f.srcSum, err = localcluster.WriteRandomFile(f.srcPath, o.size); err != nil {
		return err
	}
	conn, err := f.c.Conn("n1")
	if err != nil {
		return err
	}
	dev := ferryv1.NewDeviceServiceClient(conn)
	if _, err := dev.AddDisk(ctx, &ferryv1.AddDiskRequest{Name: "src", Path: f.srcPath}); err != nil {
		return fmt.Errorf("add disk src: %w", err)
	}
	if _, err := dev.CreateDisk(ctx, &ferryv1.CreateDiskRequest{Name: "dst", Path: f.dstPath, SizeBytes: uint64(o.size)}); err != nil {
		return fmt.Errorf("create disk dst: %w", err)
	}
	if _, err := dev.CreateDisk(ctx, &ferryv1.CreateDiskRequest{Name: "conf", Path: f.confPath, SizeBytes: conformanceBytes, Thin: true}); err != nil {
		return fmt.Errorf("create disk conf: %w", err)
	}
	resp, err := dev.ListDisks(ctx, &ferryv1.ListDisksRequest{})
	if err != nil {
		return fmt.Errorf("list disks: %w", err)
	}
	for _, d := range resp.GetDisks() {
		switch d.GetName() {
		case "src":
			f.src = d
		case "dst":
			f.dst = d
		case "conf":
			f.conf = d
		}
	}
	if f.src == nil || f.dst == nil || f.conf == nil {
		return fmt.Errorf("disks src, dst and conf are not all listed: %v", resp.GetDisks())
	}
	for _, addr := range []string{f.addr, f.addr2} {
		if f.iqn, err = waitISCSILs(ctx, addr, f.src.GetLun(), f.dst.GetLun(), f.conf.GetLun()); err != nil {
			return err
		}
	}
	return nil
}

// portal is Ferry's target as the measurements address it: n1's portal.
func (f *ferryNode) portal() portal {
	return portal{name: "Ferry", addr: f.addr, iqn: f.iqn, srcLUN: f.src.GetLun(), dstLUN: f.dst.GetLun(), confLUN: f.conf.GetLun()}
}

// portal2 is the same target through n2's portal.
func (f *ferryNode) portal2() portal {
	p := f.portal()
	p.name, p.addr = "Ferry n2", f.addr2
	return p
}

// Close kills the node.
func (f *ferryNode) Close() error { return f.c.Close() }
