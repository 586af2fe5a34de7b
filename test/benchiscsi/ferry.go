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

// ferryNode is one `ferry agent` with two disk LUNs: src of random data,
// dst of zeros, both o.size bytes.
type ferryNode struct {
	c                *localcluster.Cluster
	addr, iqn        string
	src, dst         *ferryv1.Disk
	srcPath, dstPath string
	srcSum           string // SHA-256 of src's data, hex
}

// startFerry starts node n1 in dir and registers its disks.
func startFerry(ctx context.Context, o options, dir string, log *slog.Logger) (*ferryNode, error) {
	c, err := localcluster.New(localcluster.Config{Binary: o.ferryBinary, Dir: filepath.Join(dir, "nodes"), Voters: 1, Logger: log})
	if err != nil {
		return nil, err
	}
	f := &ferryNode{c: c, srcPath: filepath.Join(dir, "src.img"), dstPath: filepath.Join(dir, "dst.img")}
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
	f.addr = n.ISCSIAddr()
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
		}
	}
	if f.src == nil || f.dst == nil {
		return fmt.Errorf("disks src and dst are not both listed: %v", resp.GetDisks())
	}
	f.iqn, err = waitISCSILs(ctx, f.addr, f.src.GetLun(), f.dst.GetLun())
	return err
}

// portal is Ferry's target as the measurements address it.
func (f *ferryNode) portal() portal {
	return portal{name: "Ferry", addr: f.addr, iqn: f.iqn, srcLUN: f.src.GetLun(), dstLUN: f.dst.GetLun()}
}

// Close kills the node.
func (f *ferryNode) Close() error { return f.c.Close() }
