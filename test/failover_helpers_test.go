package test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/internal/faultproxy"
	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Settings of the failover tests' clusters. Checkpoints are frequent so that
// a takeover re-copies little, and the copies are slowed down (bwlimit) so
// that they last long enough to be interrupted.
const (
	checkpointBytes = 8 << 20
	blockSize       = 512
	// failoverTimeout bounds a whole failover test; the work is a few
	// hundred MiB at tens of MiB/s, so it is a hang detector.
	failoverTimeout = 3 * time.Minute
	// takeoverTimeout bounds how long a lost owner's job takes to move:
	// a lease (1.5 s) or gossip's verdict, plus an election when the owner
	// led, under the race detector on two cores.
	takeoverTimeout = 45 * time.Second
	// metricsTimeout bounds one scrape of /metrics.
	metricsTimeout = 2 * time.Second
)

// moverArgs are the agent flags of every failover test node: it runs jobs,
// checkpoints often, and takes up to 10 jobs.
var moverArgs = []string{
	"-run-jobs=true",
	"-checkpoint-bytes", strconv.Itoa(checkpointBytes),
	"-checkpoint-every", "250ms",
	"-max-jobs-per-node", "10",
}

// moverCluster is a cluster of nodes that run copy jobs, with devices in a
// directory of the test, and client calls that go to whichever node
// answers.
type moverCluster struct {
	t   *testing.T
	c   *localcluster.Cluster
	dir string // device files

	mu sync.Mutex
	// shunned are nodes not to ask: paused or cut off, they would only
	// time out.
	shunned map[string]bool
}

// newMoverCluster prepares an empty cluster of movers that dies with the
// test and prints its logs if the test fails.
func newMoverCluster(t *testing.T) *moverCluster {
	t.Helper()
	dir := t.TempDir()
	if keep := os.Getenv(keepDirEnv); keep != "" {
		dir = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	c, err := localcluster.New(localcluster.Config{Binary: ferryBinary, Dir: filepath.Join(dir, "nodes"), LogLevel: os.Getenv(logLevelEnv), ExtraArgs: moverArgs})
	if err != nil {
		t.Fatal(err)
	}
	m := &moverCluster{t: t, c: c, dir: filepath.Join(dir, "devices"), shunned: map[string]bool{}}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
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
	return m
}

// startMovers starts n movers (n1 bootstraps, the rest join it) and waits
// until all are ready voters. nodeArgs adds flags to some nodes; a restart
// drops them.
func startMovers(t *testing.T, n int, nodeArgs map[string][]string) *moverCluster {
	t.Helper()
	m := newMoverCluster(t)
	m.startAll(nodeNames(n), nodeArgs, func(ctx context.Context, opts localcluster.StartOptions) error {
		_, err := m.c.StartNode(ctx, opts)
		return err
	})
	return m
}

// startAll starts the named nodes with start, the first bootstrapping and
// the rest joining it, and waits until they are ready voters.
func (m *moverCluster) startAll(names []string, nodeArgs map[string][]string, start func(context.Context, localcluster.StartOptions) error) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := start(ctx, localcluster.StartOptions{Name: names[0], ExtraArgs: nodeArgs[names[0]]}); err != nil {
		m.t.Fatal(err)
	}
	if err := m.c.WaitReady(ctx, names[0]); err != nil {
		m.t.Fatal(err)
	}
	for _, name := range names[1:] {
		if err := start(ctx, localcluster.StartOptions{Name: name, Join: names[:1], ExtraArgs: nodeArgs[name]}); err != nil {
			m.t.Fatal(err)
		}
	}
	if err := m.c.WaitReady(ctx); err != nil {
		m.t.Fatal(err)
	}
	if _, err := m.c.WaitVoters(ctx, names...); err != nil {
		m.t.Fatal(err)
	}
}

// proxied are the proxies in front of one node's gRPC and gossip ports.
type proxied struct {
	grpc   *faultproxy.TCP
	gossip *faultproxy.TCPUDP
}

func (p proxied) cut() {
	p.grpc.Cut()
	p.gossip.Cut()
}

func (p proxied) heal() {
	p.grpc.Heal()
	p.gossip.Heal()
}

func (p proxied) String() string {
	g, s := p.grpc.Stats(), p.gossip.Stats()
	return fmt.Sprintf("grpc %d accepted, %d refused; gossip %d accepted, %d refused, %d datagrams forwarded, %d dropped",
		g.Accepted, g.Refused, s.Accepted, s.Refused, s.Forwarded, s.Dropped)
}

// startProxiedMovers starts n movers as startMovers does, each behind its
// own proxies: every node advertises its proxies' ports, so that peers reach
// it only through them.
func startProxiedMovers(t *testing.T, n int, nodeArgs map[string][]string) (*moverCluster, map[string]proxied) {
	t.Helper()
	m := newMoverCluster(t)
	proxies := map[string]proxied{}
	m.startAll(nodeNames(n), nodeArgs, func(ctx context.Context, opts localcluster.StartOptions) error {
		_, err := m.c.StartNodeFunc(ctx, opts, func(ports localcluster.Ports) ([]string, error) {
			p, err := newProxied(ports)
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() {
				p.grpc.Close()
				p.gossip.Close()
			})
			proxies[opts.Name] = p
			return []string{"-advertise-grpc-port", strconv.Itoa(p.grpc.Port()), "-advertise-gossip-port", strconv.Itoa(p.gossip.Port())}, nil
		})
		return err
	})
	return m, proxies
}

// newProxied starts proxies to a node's ports on ports of their own. The
// node's ports are free but not held until it starts, so a proxy that drew
// one of them is replaced.
func newProxied(ports localcluster.Ports) (proxied, error) {
	taken := func(port int) bool { return port == ports.GRPC || port == ports.Gossip || port == ports.HTTP }
	target := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	for range 10 {
		g, err := faultproxy.New("127.0.0.1:0", target(ports.GRPC))
		if err != nil {
			return proxied{}, err
		}
		s, err := faultproxy.NewTCPUDP("127.0.0.1:0", target(ports.Gossip))
		if err != nil {
			g.Close()
			return proxied{}, err
		}
		if !taken(g.Port()) && !taken(s.Port()) {
			return proxied{grpc: g, gossip: s}, nil
		}
		g.Close()
		s.Close()
	}
	return proxied{}, errors.New("proxies keep drawing the node's own ports")
}

// shun stops (or with false, resumes) asking name: it is paused or cut off.
func (m *moverCluster) shun(name string, shunned bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.shunned[name] = shunned
}

// askable lists the running nodes that are not shunned.
func (m *moverCluster) askable() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, n := range m.c.Running() {
		if !m.shunned[n] {
			out = append(out, n)
		}
	}
	return out
}

// call runs f against each askable node in turn until one answers with
// anything but a retryable error, for as long as ctx lasts.
func (m *moverCluster) call(ctx context.Context, what string, f func(ctx context.Context, node string) error) error {
	var lastErr error
	for {
		for _, node := range m.askable() {
			actx, cancel := context.WithTimeout(ctx, attemptTimeout)
			err := f(actx, node)
			cancel()
			if err == nil || !retryable(err) {
				return err
			}
			lastErr = fmt.Errorf("%s: %w", node, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (m *moverCluster) devices(node string) (ferryv1.DeviceServiceClient, error) {
	conn, err := m.c.Conn(node)
	if err != nil {
		return nil, err
	}
	return ferryv1.NewDeviceServiceClient(conn), nil
}

// addDisk writes size random bytes to a new LUN image and registers it;
// it returns the bytes.
func (m *moverCluster) addDisk(ctx context.Context, name string, size int) []byte {
	m.t.Helper()
	path := filepath.Join(m.dir, name+".img")
	data := fillRandom(m.t, path, size)
	err := m.call(ctx, "add disk "+name, func(ctx context.Context, node string) error {
		dev, err := m.devices(node)
		if err != nil {
			return err
		}
		_, err = dev.AddDisk(ctx, &ferryv1.AddDiskRequest{Name: name, Path: path, BlockSize: blockSize})
		if status.Code(err) == codes.AlreadyExists {
			return nil
		}
		return err
	})
	if err != nil {
		m.t.Fatal(err)
	}
	return data
}

// diskOption changes the request of addEmptyDisk.
type diskOption func(*ferryv1.CreateDiskRequest)

// thinDisk makes addEmptyDisk create a thin LUN (disk create --thin).
func thinDisk(r *ferryv1.CreateDiskRequest) { r.Thin = true }

// diskBlockSize makes addEmptyDisk create a LUN of bs-byte blocks.
func diskBlockSize(bs uint32) diskOption {
	return func(r *ferryv1.CreateDiskRequest) { r.BlockSize = bs }
}

// addEmptyDisk registers a zeroed LUN image of size bytes, of 512-byte
// blocks and fully provisioned unless opts say otherwise.
func (m *moverCluster) addEmptyDisk(ctx context.Context, name string, size int, opts ...diskOption) {
	m.t.Helper()
	path := filepath.Join(m.dir, name+".img")
	req := &ferryv1.CreateDiskRequest{Name: name, Path: path, SizeBytes: uint64(size), BlockSize: blockSize}
	for _, o := range opts {
		o(req)
	}
	err := m.call(ctx, "create disk "+name, func(ctx context.Context, node string) error {
		dev, err := m.devices(node)
		if err != nil {
			return err
		}
		_, err = dev.CreateDisk(ctx, req)
		if status.Code(err) == codes.AlreadyExists {
			return nil
		}
		return err
	})
	if err != nil {
		m.t.Fatal(err)
	}
}

// addLibrary registers a library and labels one cartridge per barcode, in
// slots 1, 2, ...
func (m *moverCluster) addLibrary(ctx context.Context, name string, drives int, capacity uint64, barcodes ...string) {
	m.t.Helper()
	err := m.call(ctx, "create library "+name, func(ctx context.Context, node string) error {
		dev, err := m.devices(node)
		if err != nil {
			return err
		}
		_, err = dev.CreateLibrary(ctx, &ferryv1.CreateLibraryRequest{Name: name, Dir: filepath.Join(m.dir, name),
			Slots: uint32(len(barcodes) + 1), Drives: uint32(drives), CartridgeCapacityBytes: capacity})
		if status.Code(err) == codes.AlreadyExists {
			return nil
		}
		return err
	})
	if err != nil {
		m.t.Fatal(err)
	}
	for i, bc := range barcodes {
		err := m.call(ctx, "label "+bc, func(ctx context.Context, node string) error {
			dev, err := m.devices(node)
			if err != nil {
				return err
			}
			_, err = dev.LabelTape(ctx, &ferryv1.LabelTapeRequest{Library: name, Slot: uint32(i + 1), Barcode: bc})
			if status.Code(err) == codes.AlreadyExists {
				return nil
			}
			return err
		})
		if err != nil {
			m.t.Fatal(err)
		}
	}
}

// hash hashes an endpoint through any node.
func (m *moverCluster) hash(ctx context.Context, ep *ferryv1.Endpoint) (*ferryv1.HashResponse, error) {
	var resp *ferryv1.HashResponse
	err := m.call(ctx, "hash", func(ctx context.Context, node string) error {
		dev, err := m.devices(node)
		if err != nil {
			return err
		}
		resp, err = dev.Hash(ctx, &ferryv1.HashRequest{Endpoint: ep})
		return err
	})
	return resp, err
}

// submit submits spec under an idempotency key, retrying on any node.
func (m *moverCluster) submit(ctx context.Context, key string, spec *ferryv1.JobSpec) *ferryv1.Job {
	m.t.Helper()
	var job *ferryv1.Job
	err := m.call(ctx, "submit "+key, func(ctx context.Context, node string) error {
		cl, err := m.c.Client(node)
		if err != nil {
			return err
		}
		resp, err := cl.Jobs.Submit(ctx, &ferryv1.SubmitJobRequest{Spec: spec, IdempotencyKey: key})
		job = resp.GetJob()
		return err
	})
	if err != nil {
		m.t.Fatal(err)
	}
	return job
}

// job reads a job, linearizably, from any askable node.
func (m *moverCluster) job(ctx context.Context, id string) (*ferryv1.Job, error) {
	var job *ferryv1.Job
	err := m.call(ctx, "get job "+id, func(ctx context.Context, node string) error {
		cl, err := m.c.Client(node)
		if err != nil {
			return err
		}
		job, err = cl.Jobs.Get(ctx, &ferryv1.GetJobRequest{Id: id})
		return err
	})
	return job, err
}

// waitJob polls the job until cond holds and returns it. cond says why not
// yet; a job that ends other than SUCCEEDED fails the test at once.
func (m *moverCluster) waitJob(ctx context.Context, id, what string, cond func(*ferryv1.Job) (bool, string)) *ferryv1.Job {
	m.t.Helper()
	last := "not read yet"
	for {
		j, err := m.job(ctx, id)
		if err == nil {
			switch j.GetState() {
			case ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
				m.t.Fatalf("job %s ended %s while waiting for %s: %s\n%s", id, j.GetState(), what, j.GetStateReason(), history(j))
			}
			ok, why := cond(j)
			if ok {
				return j
			}
			if j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED {
				m.t.Fatalf("job %s succeeded before %s (%s)\n%s", id, what, why, history(j))
			}
			last = why
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			m.t.Fatalf("job %s: waiting for %s: %v (last: %s)\n%s", id, what, ctx.Err(), last, history(j))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitSucceeded waits for the job to succeed and checks its result.
func (m *moverCluster) waitSucceeded(ctx context.Context, id, wantSum string, wantBytes int) *ferryv1.Job {
	m.t.Helper()
	j := m.waitJob(ctx, id, "success", func(j *ferryv1.Job) (bool, string) {
		return j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED, fmt.Sprintf("%s (%s), checkpoint at %d", j.GetState(), j.GetStateReason(), j.GetProgress().GetCheckpointOffset())
	})
	if got := j.GetResult(); got.GetSha256() != wantSum || got.GetBytes() != uint64(wantBytes) {
		m.t.Errorf("job %s succeeded with sha256 %s of %d bytes, want %s of %d\n%s", id, got.GetSha256(), got.GetBytes(), wantSum, wantBytes, history(j))
	}
	return j
}

// running says whether the job runs under its current epoch: placed, and
// its owner has recorded the start (so its devices are claimed), with its
// last checkpoint at least at offset.
func running(j *ferryv1.Job, offset uint64) (bool, string) {
	if j.GetState() != ferryv1.JobState_JOB_STATE_RUNNING {
		return false, j.GetState().String() + ": " + j.GetStateReason()
	}
	if !startedUnderEpoch(j) {
		return false, fmt.Sprintf("placed on %s (epoch %d), not started yet", j.GetOwner(), j.GetEpoch())
	}
	if cp := j.GetProgress().GetCheckpointOffset(); cp < offset {
		return false, fmt.Sprintf("running on %s, checkpoint at %d of %d wanted", j.GetOwner(), cp, offset)
	}
	return true, ""
}

// startedUnderEpoch reports whether the owner recorded its start after the
// placement that gave it the job.
func startedUnderEpoch(j *ferryv1.Job) bool {
	for _, ev := range j.GetHistory() {
		if ev.GetRaftIndex() > j.GetEpoch() && (strings.HasPrefix(ev.GetMessage(), "started on ") || strings.HasPrefix(ev.GetMessage(), "resumed on ")) {
			return true
		}
	}
	return false
}

// history renders a job's events, for failure messages.
func history(j *ferryv1.Job) string {
	if j == nil {
		return "(job never read)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "job %s: %s (%s), owner %s, epoch %d\n", j.GetId(), j.GetState(), j.GetStateReason(), j.GetOwner(), j.GetEpoch())
	for _, ev := range j.GetHistory() {
		fmt.Fprintf(&b, "  [%d] %s %s: %s\n", ev.GetRaftIndex(), ev.GetState(), ev.GetNode(), ev.GetMessage())
	}
	return b.String()
}

// events returns the job's events whose message starts with prefix.
func events(j *ferryv1.Job, prefix string) []*ferryv1.JobEvent {
	var out []*ferryv1.JobEvent
	for _, ev := range j.GetHistory() {
		if strings.HasPrefix(ev.GetMessage(), prefix) {
			out = append(out, ev)
		}
	}
	return out
}

// diskEndpoint is blocks blocks of a disk from lba; 0 blocks is to the end.
func diskEndpoint(name string, lba, blocks uint64) *ferryv1.Endpoint {
	return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}, Lba: lba, Blocks: blocks}
}

// tapeEndpoint is a cartridge: the whole tape, or one file of it when file
// is not negative. As a destination, the whole tape means a new file.
func tapeEndpoint(barcode string, file int) *ferryv1.Endpoint {
	ep := &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: barcode}}}
	if file >= 0 {
		f := uint32(file)
		ep.TapeFile = &f
	}
	return ep
}

// copySpec is a throttled copy with frequent checkpoints.
func copySpec(name string, src, dst *ferryv1.Endpoint, bytesPerSecond uint64) *ferryv1.JobSpec {
	return &ferryv1.JobSpec{Name: name, Source: src, Destination: dst,
		Options: &ferryv1.JobOptions{BwlimitBytesPerSecond: bytesPerSecond, CheckpointIntervalBytes: checkpointBytes}}
}

// checkTape checks that a cartridge holds, after its label, exactly the
// given files, in order, with the given SHA-256 sums: nothing written twice,
// nothing after them.
func (m *moverCluster) checkTape(ctx context.Context, barcode string, sums []string, sizes []int) {
	m.t.Helper()
	total := 0
	for i := range sums {
		total += sizes[i]
		h, err := m.hash(ctx, tapeEndpoint(barcode, i+1))
		if err != nil {
			m.t.Errorf("hash %s file %d: %v", barcode, i+1, err)
			continue
		}
		if h.GetSha256() != sums[i] || h.GetBytes() != uint64(sizes[i]) {
			m.t.Errorf("%s file %d: sha256 %s of %d bytes, want %s of %d", barcode, i+1, h.GetSha256(), h.GetBytes(), sums[i], sizes[i])
		}
	}
	h, err := m.hash(ctx, tapeEndpoint(barcode, -1))
	if err != nil {
		m.t.Errorf("hash all of %s: %v", barcode, err)
	} else if h.GetBytes() != uint64(total) {
		m.t.Errorf("%s holds %d data bytes after its label, want exactly %d", barcode, h.GetBytes(), total)
	}
	// The file after the last must not exist, or be empty at end of data.
	switch next, err := m.hash(ctx, tapeEndpoint(barcode, len(sums)+1)); {
	case err != nil && status.Code(err) != codes.OutOfRange:
		m.t.Errorf("hash %s file %d: %v, want OUT_OF_RANGE or nothing", barcode, len(sums)+1, err)
	case err == nil && (next.GetBytes() != 0 || next.GetRecords() != 0):
		m.t.Errorf("%s has a file %d of %d bytes, want none", barcode, len(sums)+1, next.GetBytes())
	}
}

// checkDisk checks that a disk range hashes to want.
func (m *moverCluster) checkDisk(ctx context.Context, name string, lba, blocks uint64, want string) {
	m.t.Helper()
	h, err := m.hash(ctx, diskEndpoint(name, lba, blocks))
	if err != nil {
		m.t.Errorf("hash disk %s: %v", name, err)
		return
	}
	if h.GetSha256() != want {
		m.t.Errorf("disk %s@%d+%d hashes to %s, want %s", name, lba, blocks, h.GetSha256(), want)
	}
}

// metric is the cluster's Metric, within metricsTimeout.
func (m *moverCluster) metric(ctx context.Context, node, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, metricsTimeout)
	defer cancel()
	return m.c.Metric(ctx, node, name)
}

// mustMetric is metric, failing the test on error.
func (m *moverCluster) mustMetric(ctx context.Context, node, name string) float64 {
	m.t.Helper()
	v, err := m.metric(ctx, node, name)
	if err != nil {
		m.t.Fatal(err)
	}
	return v
}

// waitSteady polls a node's metric until two readings settle apart agree,
// and returns that value: a counter that has stopped growing.
func (m *moverCluster) waitSteady(ctx context.Context, node, name string, settle time.Duration) float64 {
	m.t.Helper()
	prev := m.mustMetric(ctx, node, name)
	for {
		select {
		case <-ctx.Done():
			m.t.Fatalf("%s of %s never stopped growing (last %v): %v", name, node, prev, ctx.Err())
		case <-time.After(settle):
		}
		v := m.mustMetric(ctx, node, name)
		if v == prev {
			return v
		}
		prev = v
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, string)) {
	t.Helper()
	last := "not checked yet"
	for {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last: %s)", what, ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
