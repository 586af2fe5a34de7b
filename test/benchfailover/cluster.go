package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// The devices every run registers.
const (
	diskName    = "db01"
	libraryName = "lib1"
	libDrives   = 4
	// maxQuietJobs is how many copies can run at once: one per drive.
	maxQuietJobs = libDrives
)

// Deadlines, generous: a slow machine should fail only when something is
// wrong.
const (
	startTimeout = time.Minute
	rpcTimeout   = 5 * time.Second
	pollInterval = 20 * time.Millisecond
)

// siteName is the agent's default site, also the site of a device
// registered without one.
const siteName = "default"

// tapeName is the barcode of the i-th cartridge, from 0.
func tapeName(i int) string { return fmt.Sprintf("A%05dL9", i+1) }

// benchCluster is a three-node cluster of the real binary with a disk LUN
// of random data, a library and cartridges.
type benchCluster struct {
	c       *localcluster.Cluster
	names   []string
	dataSum string // SHA-256 of the disk's data, hex
	size    int64
	log     *slog.Logger
}

// startCluster starts three nodes in dir, writes the disk's random data,
// and registers the disk, a library and tapes cartridges.
func startCluster(ctx context.Context, o options, dir string, tapes int, log *slog.Logger) (*benchCluster, error) {
	c, err := localcluster.New(localcluster.Config{
		Binary:    o.ferryBinary,
		Dir:       filepath.Join(dir, "nodes"),
		Site:      siteName,
		Logger:    log,
		ExtraArgs: o.agentArgs,
	})
	if err != nil {
		return nil, err
	}
	b := &benchCluster{c: c, names: []string{"n1", "n2", "n3"}, size: o.size, log: log}
	if err := b.start(ctx, dir, tapes); err != nil {
		fmt.Fprint(os.Stderr, c.Tails(30))
		c.Close()
		return nil, err
	}
	return b, nil
}

func (b *benchCluster) start(ctx context.Context, dir string, tapes int) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if _, err := b.c.Start(ctx, b.names[0]); err != nil {
		return err
	}
	if err := b.c.WaitReady(ctx, b.names[0]); err != nil {
		return err
	}
	for _, name := range b.names[1:] {
		if _, err := b.c.Start(ctx, name, b.names[0]); err != nil {
			return err
		}
	}
	if err := b.c.WaitReady(ctx); err != nil {
		return err
	}
	if _, err := b.c.WaitVoters(ctx, b.names...); err != nil {
		return err
	}
	path := filepath.Join(dir, diskName+".img")
	b.log.Info("writing the disk's random data", "path", path, "bytes", b.size)
	sum, err := localcluster.WriteRandomFile(path, b.size)
	if err != nil {
		return err
	}
	b.dataSum = sum
	conn, err := b.c.Conn(b.names[0])
	if err != nil {
		return err
	}
	dev := ferryv1.NewDeviceServiceClient(conn)
	if _, err := dev.AddDisk(ctx, &ferryv1.AddDiskRequest{Name: diskName, Path: path}); err != nil {
		return fmt.Errorf("add disk: %w", err)
	}
	// Each copy overwrites tape file 1, so a cartridge holds one copy.
	if _, err := dev.CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{Name: libraryName, Dir: filepath.Join(dir, libraryName),
		Slots: 8, Drives: libDrives, CartridgeCapacityBytes: uint64(2*b.size + 64<<20)}); err != nil {
		return fmt.Errorf("create library: %w", err)
	}
	for i := range tapes {
		if _, err := dev.LabelTape(ctx, &ferryv1.LabelTapeRequest{Library: libraryName, Slot: uint32(i + 1), Barcode: tapeName(i)}); err != nil {
			return fmt.Errorf("label tape %s: %w", tapeName(i), err)
		}
	}
	return nil
}

// Close kills every node.
func (b *benchCluster) Close() error { return b.c.Close() }

// copySpec is the whole disk copied over tape file 1 of the cartridge, at
// the bandwidth limit.
func copySpec(o options, tape string) *ferryv1.JobSpec {
	file := uint32(1)
	return &ferryv1.JobSpec{
		Name: fmt.Sprintf("%s to %s#1", diskName, tape),
		Source: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK,
			Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: diskName}}},
		Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE,
			Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: tape}}, TapeFile: &file},
		Options: &ferryv1.JobOptions{BwlimitBytesPerSecond: uint64(o.bwlimit)},
	}
}

// submit submits a copy through a running node and returns its id.
func (b *benchCluster) submit(ctx context.Context, o options, key, tape string) (string, error) {
	var id string
	err := b.retry(ctx, time.Minute, rpcTimeout, func(ctx context.Context, cl client) error {
		resp, err := cl.Jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: copySpec(o, tape), IdempotencyKey: key})
		if err != nil {
			return err
		}
		id = resp.GetJob().GetId()
		return nil
	})
	return id, err
}

// getJob reads the job through any running node (linearizable).
func (b *benchCluster) getJob(ctx context.Context, id string) (*ferryv1.Job, error) {
	var j *ferryv1.Job
	err := b.retry(ctx, 30*time.Second, rpcTimeout, func(ctx context.Context, cl client) error {
		var err error
		j, err = cl.Jobs.Get(ctx, &ferryv1.GetJobRequest{Id: id})
		return err
	})
	return j, err
}

// waitJob polls the job until check says done or fails, or within ends.
func (b *benchCluster) waitJob(ctx context.Context, id string, within time.Duration, what string, check func(*ferryv1.Job) (bool, error)) (*ferryv1.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last *ferryv1.Job
	for {
		j, err := b.getJob(ctx, id)
		if err == nil {
			last = j
			done, err := check(j)
			if err != nil || done {
				return j, err
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("waiting %v for %s: %w (job last %s)", within, what, ctx.Err(), jobText(last))
		case <-time.After(pollInterval):
		}
	}
}

// client is the services of one node that the benchmark calls.
type client struct {
	Jobs    ferryv1.JobServiceClient
	Devices ferryv1.DeviceServiceClient
}

// retry calls f on the running nodes in turn, each call bounded by timeout,
// until it succeeds, fails with an error other than the cluster being
// between leaders or a node being down, or within ends.
func (b *benchCluster) retry(ctx context.Context, within, timeout time.Duration, f func(context.Context, client) error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for i := 0; ; i++ {
		running := b.c.Running()
		if len(running) == 0 {
			return errors.New("no node runs")
		}
		node := running[i%len(running)]
		conn, err := b.c.Conn(node)
		if err != nil {
			return err
		}
		cl := client{Jobs: ferryv1.NewJobServiceClient(conn), Devices: ferryv1.NewDeviceServiceClient(conn)}
		rctx, rcancel := context.WithTimeout(ctx, timeout)
		err = f(rctx, cl)
		rcancel()
		if err == nil {
			return nil
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Aborted:
			last = fmt.Errorf("%s: %w", node, err)
		default:
			return fmt.Errorf("%s: %w", node, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

// leader is the node that leads now.
func (b *benchCluster) leader(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return b.c.Leader(ctx)
}

// verifyCopy hashes tape file 1 of the copy's cartridge and checks it, and
// the job's result, against the data written to the disk.
func (b *benchCluster) verifyCopy(ctx context.Context, j *ferryv1.Job, tape string) error {
	if j.GetState() != ferryv1.JobState_JOB_STATE_SUCCEEDED {
		return fmt.Errorf("job %s %s", j.GetId(), jobText(j))
	}
	if got := j.GetResult().GetSha256(); got != b.dataSum {
		return fmt.Errorf("job %s: result sha256 %s, data written %s", j.GetId(), got, b.dataSum)
	}
	file := uint32(1)
	var h *ferryv1.HashResponse
	err := b.retry(ctx, 3*time.Minute, time.Minute, func(ctx context.Context, cl client) error {
		var err error
		h, err = cl.Devices.Hash(ctx, &ferryv1.HashRequest{Endpoint: &ferryv1.Endpoint{
			Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: tape}}, TapeFile: &file}})
		return err
	})
	if err != nil {
		return fmt.Errorf("hash tape %s#1: %w", tape, err)
	}
	if h.GetSha256() != b.dataSum || int64(h.GetBytes()) != b.size {
		return fmt.Errorf("tape %s#1 holds %d bytes with sha256 %s; the disk's %d bytes have %s", tape, h.GetBytes(), h.GetSha256(), b.size, b.dataSum)
	}
	return nil
}

// logLine returns the first line of the node's log holding every word.
func (b *benchCluster) logLine(node string, words ...string) (string, bool) {
	n, err := b.c.Node(node)
	if err != nil {
		return "", false
	}
	data, err := os.ReadFile(n.LogPath)
	if err != nil {
		return "", false
	}
	for line := range strings.Lines(string(data)) {
		found := true
		for _, w := range words {
			if !strings.Contains(line, w) {
				found = false
				break
			}
		}
		if found {
			return strings.TrimSpace(line), true
		}
	}
	return "", false
}

// httpAddr is the node's /metrics address.
func (b *benchCluster) httpAddr(node string) string {
	n, err := b.c.Node(node)
	if err != nil {
		return "unknown-node"
	}
	return n.HTTPAddr()
}

func jobText(j *ferryv1.Job) string {
	if j == nil {
		return "never read"
	}
	return fmt.Sprintf("%s (%s), owner %q epoch %d, checkpoint at %d bytes", strings.ToLower(strings.TrimPrefix(j.GetState().String(), "JOB_STATE_")),
		j.GetStateReason(), j.GetOwner(), j.GetEpoch(), j.GetProgress().GetCheckpointOffset())
}
