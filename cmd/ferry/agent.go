package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"

	"github.com/ferry-san/ferry/cluster"
	"github.com/ferry-san/ferry/cluster/executor"
	"github.com/ferry-san/ferry/internal/bytesize"
	"github.com/ferry-san/ferry/internal/flagenv"
	"github.com/ferry-san/ferry/iscsi"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/rpc/grpcapi"
	"github.com/ferry-san/ferry/rpc/iscsitarget"
	"github.com/ferry-san/ferry/rpc/ndmpserver"
	"github.com/ferry-san/ferry/scheduler"
	"github.com/ferry-san/ferry/security/devicedirs"
	"github.com/ferry-san/ferry/security/mtls"
	"github.com/ferry-san/ferry/security/pki"
)

// agentFlags are the settings of `ferry agent`.
type agentFlags struct {
	node, dataDir, bind, advertise, site, join, clusterName string
	grpcPort, gossipPort, httpPort                          int
	advertiseGRPCPort, advertiseGossipPort                  int
	voters                                                  int
	snapshotEntries, catchUpEntries                         uint64
	deadNodeTimeout, tick                                   time.Duration
	electionTicks                                           int
	logFormat, logLevel                                     string
	checkpointBytes                                         int64
	checkpointEvery                                         time.Duration
	dev, runJobs, pprof                                     bool
	reach, iscsiIQN                                         string
	chapUser, chapSecret, chapMutualUser, chapMutualSecret  string
	iscsiPort                                               int
	ndmpPort                                                int
	ndmpUser, ndmpPassword, ndmpAuth, ndmpDataRoots         string
	lease, renewInterval, renewDeadline                     time.Duration
	maxJobsPerNode, maxJobsPerLibrary                       int
	reconnectInterval, auditRetention                       time.Duration
	tlsCA, tlsCert, tlsKey, gossipKey, deviceDirs           string
	insecure                                                bool
}

func agentFlagSet() (*flag.FlagSet, *agentFlags) {
	d := cluster.DefaultConfig()
	f := &agentFlags{}
	fs := flag.NewFlagSet("ferry agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	host, _ := os.Hostname()
	fs.StringVar(&f.node, "node", host, "unique name of this node in the cluster")
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for the node's Raft log (raft.db); none means /var/lib/ferry/NODE")
	fs.StringVar(&f.bind, "bind", d.BindAddr, "address every listener binds to")
	fs.StringVar(&f.advertise, "advertise", "", "address other nodes and clients use to reach this node; none means -bind")
	fs.IntVar(&f.grpcPort, "grpc-port", 7101, "port of the gRPC API and the Raft transport")
	fs.IntVar(&f.gossipPort, "gossip-port", d.GossipPort, "port of gossip (memberlist, TCP and UDP)")
	fs.IntVar(&f.advertiseGRPCPort, "advertise-grpc-port", 0, "gRPC port other nodes and clients use, if a proxy or NAT stands in front of -grpc-port; 0 means -grpc-port")
	fs.IntVar(&f.advertiseGossipPort, "advertise-gossip-port", 0, "gossip port other nodes use, if a proxy or NAT stands in front of -gossip-port; 0 means -gossip-port")
	fs.IntVar(&f.iscsiPort, "iscsi-port", 3260, "port of the iSCSI target portal; if it is taken the node serves no iSCSI (and says so in its log); 0 turns it off")
	fs.StringVar(&f.iscsiIQN, "iscsi-iqn", "", "iSCSI target name, same on every node; none means "+iscsitarget.DefaultTargetName+"CLUSTER-NAME")
	fs.StringVar(&f.chapUser, "iscsi-chap-user", "", "CHAP user initiators must authenticate as (with -iscsi-chap-secret); none means no authentication")
	fs.StringVar(&f.chapSecret, "iscsi-chap-secret", "", "CHAP secret of -iscsi-chap-user (12 to 16 characters recommended); better in FERRY_ISCSI_CHAP_SECRET or -config")
	fs.StringVar(&f.chapMutualUser, "iscsi-chap-mutual-user", "", "mutual CHAP: the name the target answers with when an initiator challenges it")
	fs.StringVar(&f.chapMutualSecret, "iscsi-chap-mutual-secret", "", "mutual CHAP: the target's secret")
	fs.IntVar(&f.ndmpPort, "ndmp-port", ndmpserver.DefaultPort, "port of the NDMP server (tape, mover, data and robot services for DMAs); if it is taken the node serves no NDMP (and says so in its log); 0 turns it off")
	fs.StringVar(&f.ndmpUser, "ndmp-user", "ndmp", "user DMAs authenticate as over NDMP")
	fs.StringVar(&f.ndmpPassword, "ndmp-password", "", "password of -ndmp-user; without one (and without -ndmp-auth none) the node serves no NDMP; better in FERRY_NDMP_PASSWORD or -config")
	fs.StringVar(&f.ndmpAuth, "ndmp-auth", "md5,text", "NDMP authentication methods accepted, comma-separated: md5, text; or none, which lets anyone who reaches the port use the cluster's tapes")
	fs.StringVar(&f.ndmpDataRoots, "ndmp-data-root", "", "comma-separated directories the NDMP DATA service may back up and recover into (FILESYSTEM); empty means none: the node serves tapes and robots but no DATA")
	fs.IntVar(&f.httpPort, "http-port", 7301, "port of /metrics, /healthz and /readyz")
	fs.StringVar(&f.site, "site", d.Site, "site (data centre) this node belongs to")
	fs.StringVar(&f.join, "join", "", "comma-separated gossip addresses of existing members; empty with a new data dir bootstraps a new cluster")
	fs.StringVar(&f.clusterName, "cluster-name", d.ClusterName, "name of the cluster")
	fs.IntVar(&f.voters, "voters", d.MaxVoters, "most Raft voters; learners are promoted while the count stays odd")
	fs.Uint64Var(&f.snapshotEntries, "snapshot-entries", d.SnapshotEntries, "applied entries between snapshots (and log compactions)")
	fs.Uint64Var(&f.catchUpEntries, "catch-up-entries", d.CatchUpEntries, "entries kept behind a snapshot for lagging followers")
	fs.DurationVar(&f.deadNodeTimeout, "dead-node-timeout", d.DeadNodeTimeout, "how long a node must be dead in gossip before the leader removes it from Raft")
	fs.DurationVar(&f.reconnectInterval, "reconnect-interval", d.Reconnect.Interval, "how often a node tries to rejoin a failed member (or, alone, every member it knows), for up to -dead-node-timeout; heals gossip after a partition")
	fs.DurationVar(&f.tick, "tick", d.TickInterval, "Raft tick interval")
	fs.IntVar(&f.electionTicks, "election-ticks", d.ElectionTicks, "Raft election timeout in ticks")
	bytesize.Int64Var(fs, &f.checkpointBytes, "checkpoint-bytes", mover.DefaultCheckpointBytes, "`bytes` a copy moves between committed checkpoints, e.g. 64MiB")
	fs.DurationVar(&f.checkpointEvery, "checkpoint-every", mover.DefaultCheckpointEvery, "longest time between a running copy's committed checkpoints")
	fs.StringVar(&f.reach, "reach", "", "comma-separated devices this node reaches: disk names, library names, LIB/N drives; empty means every device of its site")
	fs.DurationVar(&f.lease, "lease", scheduler.DefaultLease, "job lease on the leader's clock: a node silent this long loses its jobs (same on every node)")
	fs.DurationVar(&f.renewInterval, "renew-interval", executor.DefaultRenewInterval, "how often this node renews its lease")
	fs.DurationVar(&f.renewDeadline, "renew-deadline", executor.DefaultRenewDeadline, "how long after a granted renewal was sent this node may write; at most 2/3 of -lease")
	fs.IntVar(&f.maxJobsPerNode, "max-jobs-per-node", scheduler.DefaultMaxJobsPerNode, "most jobs the scheduler runs on one node (same on every node)")
	fs.IntVar(&f.maxJobsPerLibrary, "max-jobs-per-library", 0, "most jobs using drives of one library; 0 means as many as it has drives (same on every node)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&f.runJobs, "run-jobs", true, "run the copy jobs this node accepts; false makes a node that only replicates and serves the API")
	fs.BoolVar(&f.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ on the http port")
	fs.BoolVar(&f.dev, "dev", false, "one node with its data in a temporary directory, removed on exit (plaintext gRPC allowed)")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "the cluster CA's certificate (ferry tls ca create): peers and clients must present certificates it signed")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "this node's certificate (ferry tls cert create -node NAME); reloaded on SIGHUP or when the file changes")
	fs.StringVar(&f.tlsKey, "tls-key", "", "this node's private key")
	fs.StringVar(&f.gossipKey, "gossip-key", "", "base64 key that encrypts gossip (ferry keygen; 16, 24 or 32 bytes), the same on every node: a node without it cannot join; better in FERRY_GOSSIP_KEY or -config. Once the cluster has rotated keys (ferry keyring), the node's DATA_DIR/gossip.keyring takes its place")
	fs.StringVar(&f.deviceDirs, "device-dirs", "", "comma-separated directories this node registers devices under (disk images, block devices, library directories), e.g. /san,/vtl; none means any path (logged as a warning); the node's -data-dir is never a device")
	fs.DurationVar(&f.auditRetention, "audit-retention", grpcapi.DefaultAuditRetention, "how long the audit trail keeps the record of a call (the leader's setting decides; the same on every node); at least 1m")
	fs.BoolVar(&f.insecure, "insecure", false, "serve gRPC and Raft in plaintext, without TLS: anyone who reaches the port can register devices, copy over them and join the cluster; for a trusted network or a test only")
	fs.String(flagenv.ConfigFlag, "", "config file: one 'flag-name = value' per line")
	// Errors are reported once by runAgent; -h prints printAgentUsage.
	fs.Usage = func() {}
	return fs, f
}

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, f := agentFlagSet()
	if _, err := flagenv.Parse(fs, args, "FERRY"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printAgentUsage(stdout, fs)
			return 0
		}
		fmt.Fprintf(stderr, "ferry agent: %v\nusage: ferry agent [flags] (see \"ferry agent -h\")\n", err)
		return 2
	}
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "ferry agent: %v\n", err)
		return 2
	}
	warnings, err := f.validate()
	if err != nil {
		fmt.Fprintf(stderr, "ferry agent: %v\n", strings.ReplaceAll(err.Error(), "\n", "\nferry agent: "))
		return 2
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	if f.dev {
		dir, err := os.MkdirTemp("", "ferry-dev-")
		if err != nil {
			fmt.Fprintf(stderr, "ferry agent: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		f.dataDir = dir
		if f.node == "" {
			f.node = "dev"
		}
		log.Info("dev mode: one node, data in a temporary directory", "dir", dir)
	}
	if f.node == "" {
		fmt.Fprintln(stderr, "ferry agent: -node is required")
		return 2
	}
	if f.dataDir == "" {
		f.dataDir = filepath.Join("/var/lib/ferry", f.node)
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// A node's live heap is small (the replicated state) while it
		// allocates fast under load (protobuf messages per request): trading
		// some memory for a quarter of the collections buys about 10% more
		// submissions per second. GOGC in the environment still decides.
		debug.SetGCPercent(400)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// GOGC=400 lets the heap grow to five times what is live, and what
		// is live can be the iSCSI target's whole data budget (256 MiB of
		// write buffers under a flood of large WRITEs): over a gigabyte. A
		// soft limit of the budget and 256 MiB more makes the collector
		// work harder near it instead; it changes nothing while the heap
		// is small. GOMEMLIMIT in the environment still decides.
		debug.SetMemoryLimit(int64(iscsi.DefaultConfig().DataBudget) + 256<<20)
	}
	if err := serveAgent(ctx, f, log); err != nil {
		if errors.Is(err, cluster.ErrRemoved) {
			fmt.Fprintf(stderr, "ferry agent: %v; start it with a new data dir to rejoin\n", err)
			return 0
		}
		fmt.Fprintf(stderr, "ferry agent: %v\n", err)
		return 1
	}
	return 0
}

// printAgentUsage is ferry agent -h: every flag with its default and its
// environment variable, as the client commands show theirs.
func printAgentUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "Usage: ferry agent [flags]\n\nRuns one Ferry node. Every flag may also be set as FERRY_<FLAG> (e.g. FERRY_GRPC_PORT)\n"+
		"or in the -config file. Sizes take units (64MiB, 100MB), durations Go's (250ms, 1.5s).\n"+
		"The lease settings must keep -renew-interval < -renew-deadline <= 2/3 -lease; a quarter\n"+
		"of -renew-deadline or less is recommended for -renew-interval.\n\n"+
		"Flags (precedence: flag > environment > config file > default):\n")
	flagenv.PrintDefaults(w, fs, func(name string) string { return flagenv.EnvName("FERRY", name) })
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

// serveAgent runs the node until ctx ends or the node fails.
func serveAgent(ctx context.Context, f *agentFlags, log *slog.Logger) error {
	advertise := f.advertise
	if advertise == "" {
		advertise = f.bind
	}
	chap, err := f.chap()
	if err != nil {
		return err
	}
	// Listen first: a port already taken must stop the agent before it
	// touches the cluster.
	grpcLn, err := net.Listen("tcp", net.JoinHostPort(f.bind, strconv.Itoa(f.grpcPort)))
	if err != nil {
		return fmt.Errorf("grpc listener: %w", err)
	}
	defer grpcLn.Close()
	httpLn, err := net.Listen("tcp", net.JoinHostPort(f.bind, strconv.Itoa(f.httpPort)))
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	defer httpLn.Close()
	iqn := cmp.Or(f.iscsiIQN, iscsitarget.DefaultTargetName+f.clusterName)
	var iscsiLn net.Listener
	var iscsiPortal string
	if f.iscsiPort > 0 {
		// Unlike the other ports, a taken iSCSI port does not stop the
		// node: it still moves data and serves the API.
		if iscsiLn, err = net.Listen("tcp", net.JoinHostPort(f.bind, strconv.Itoa(f.iscsiPort))); err != nil {
			log.Warn("no iSCSI target on this node: its port is taken", "port", f.iscsiPort, "err", err)
		} else {
			defer iscsiLn.Close()
			iscsiPortal = net.JoinHostPort(advertise, strconv.Itoa(iscsiLn.Addr().(*net.TCPAddr).Port))
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	tlsStore, err := f.loadTLS(ctx, log)
	if err != nil {
		return err
	}

	join := splitList(f.join)
	cfg := cluster.Config{
		NodeName:            f.node,
		Reach:               splitList(f.reach),
		ISCSIPortal:         iscsiPortal,
		ISCSITarget:         iqn,
		Mover:               f.runJobs,
		ClusterName:         f.clusterName,
		Site:                f.site,
		DataDir:             f.dataDir,
		BindAddr:            f.bind,
		AdvertiseAddr:       advertise,
		GRPCAddr:            net.JoinHostPort(advertise, strconv.Itoa(cmp.Or(f.advertiseGRPCPort, grpcLn.Addr().(*net.TCPAddr).Port))),
		GossipAdvertisePort: f.advertiseGossipPort,
		HTTPAddr:            net.JoinHostPort(advertise, strconv.Itoa(httpLn.Addr().(*net.TCPAddr).Port)),
		GossipPort:          f.gossipPort,
		Join:                join,
		TickInterval:        f.tick,
		ElectionTicks:       f.electionTicks,
		SnapshotEntries:     f.snapshotEntries,
		CatchUpEntries:      f.catchUpEntries,
		MaxVoters:           f.voters,
		DeadNodeTimeout:     f.deadNodeTimeout,
		Reconnect:           cluster.ReconnectConfig{Interval: f.reconnectInterval},
		TLS:                 tlsStore,
		GossipKeys:          f.gossipKeys(),
		Logger:              log,
		Registerer:          reg,
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	node, err := cluster.Start(startCtx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer node.Stop()

	metrics := grpcapi.NewMetrics(reg)
	serverOpts := append(cluster.ServerOptions(), grpc.ChainUnaryInterceptor(metrics.Unary), grpc.ChainStreamInterceptor(metrics.Stream))
	if tlsStore != nil {
		serverOpts = append(serverOpts, grpc.Creds(tlsStore.ServerCredentials()))
		serverOpts = append(serverOpts, cluster.PeerAuth(f.clusterName)...)
	}
	// The audit trail proposes the records of mutating calls after they
	// were answered; it stops after the gRPC server (deferred later, run
	// earlier), so that it flushes what the last calls queued.
	auditor := grpcapi.NewAuditor(node, grpcapi.AuditConfig{Retention: f.auditRetention, Logger: log, Registerer: reg})
	auditCtx, stopAudit := context.WithCancel(context.Background())
	auditDone := make(chan struct{})
	go func() { auditor.Run(auditCtx); close(auditDone) }()
	defer func() { stopAudit(); <-auditDone }()
	// The ACL check resolves every client call's caller: it comes before
	// every interceptor that reads it, and hands mutating calls to the
	// audit trail.
	auth := grpcapi.NewAuth(grpcapi.AuthConfig{Tokens: node.FSM(), Cluster: f.clusterName, TLS: tlsStore != nil, Skip: cluster.NodeOnly, Logger: log, Audit: auditor})
	serverOpts = append(serverOpts, auth.ServerOptions()...)
	gs := grpc.NewServer(serverOpts...)
	if !node.FSM().ACLBootstrapped() {
		log.Warn("ACLs are not bootstrapped: every caller that reaches the gRPC API (past mutual TLS, if on) is an admin; run \"ferry acl bootstrap\" right after the cluster starts")
	}
	ferryv1.RegisterAclServiceServer(gs, grpcapi.NewAclServer(node))
	ferryv1.RegisterAuditServiceServer(gs, grpcapi.NewAuditServer(node))
	ferryv1.RegisterKeyringServiceServer(gs, grpcapi.NewKeyringServer(node))
	api := grpcapi.New(node, log)
	ferryv1.RegisterJobServiceServer(gs, api)
	ferryv1.RegisterClusterServiceServer(gs, api)
	paths, err := devicedirs.New(splitList(f.deviceDirs), []string{f.dataDir})
	if err != nil {
		return fmt.Errorf("-device-dirs: %w", err)
	}
	if len(paths.Allowed) == 0 {
		log.Warn("no -device-dirs: a caller allowed to register devices may make a device of any file this node can open", "data_dir_refused", f.dataDir)
	}
	ferryv1.RegisterDeviceServiceServer(gs, grpcapi.NewDeviceServer(node, paths))
	ferryv1.RegisterRaftTransportServer(gs, node.Transport())
	sched := scheduler.New(node, scheduler.Config{
		Place:   scheduler.PlaceConfig{MaxJobsPerNode: f.maxJobsPerNode, MaxJobsPerLibrary: f.maxJobsPerLibrary},
		Lease:   f.lease,
		Logger:  log,
		Metrics: scheduler.NewMetrics(reg),
	})
	ferryv1.RegisterLeaseServiceServer(gs, sched)
	schedCtx, stopSched := context.WithCancel(context.Background())
	schedDone := make(chan struct{})
	go func() { sched.Run(schedCtx); close(schedDone) }()
	defer func() { stopSched(); <-schedDone }()
	go func() {
		if err := gs.Serve(grpcLn); err != nil {
			log.Error("grpc server stopped", "err", err)
		}
	}()
	defer stopGRPC(gs)

	if iscsiLn != nil {
		target, err := iscsitarget.New(node, iscsitarget.Config{
			TargetName: iqn, CHAPFrom: chapFrom(node.FSM(), chap), Logger: log,
			// Stable across restarts and, in practice, distinct per node.
			RelativePortID: iscsitarget.PortID(node.ID()),
		})
		if err != nil {
			return err
		}
		iscsiCtx, stopISCSI := context.WithCancel(context.Background())
		iscsiDone := make(chan struct{})
		go func() {
			if err := target.Serve(iscsiCtx, iscsiLn); err != nil && iscsiCtx.Err() == nil && !errors.Is(err, iscsi.ErrClosed) {
				log.Error("iSCSI target stopped", "err", err)
			}
			close(iscsiDone)
		}()
		defer func() {
			// Initiators are asked to log out first, so that multipath ones
			// move to another node before this one goes.
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := target.Shutdown(sctx); err != nil {
				log.Debug("iSCSI target shutdown", "err", err)
			}
			stopISCSI()
			<-iscsiDone
		}()
	}

	hs := &http.Server{Handler: httpHandler(node, reg, f.pprof), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
		}
	}()
	defer hs.Close()

	execCtx, stopExec := context.WithCancel(context.Background())
	exec := executor.New(node, executor.Config{Logger: log, Registerer: reg, DeviceDirs: paths, Mover: mover.Config{
		CheckpointBytes: f.checkpointBytes, CheckpointEvery: f.checkpointEvery,
	}, RenewInterval: f.renewInterval, RenewDeadline: f.renewDeadline})
	execDone := make(chan struct{})
	if f.runJobs {
		go func() { exec.Run(execCtx); close(execDone) }()
	} else {
		close(execDone)
	}
	// Copies stop (keeping their committed checkpoints) before the node does.
	defer func() { stopExec(); <-execDone }()

	v := currentVersion()
	if stopNDMP := f.startNDMP(node, exec, reg, log, cmp.Or(v.version, "devel")); stopNDMP != nil {
		defer stopNDMP()
	}
	transport := "mutual TLS 1.3"
	if tlsStore == nil {
		transport = "PLAINTEXT (-insecure or -dev): no authentication, no encryption"
	}
	log.Info("agent running", "version", cmp.Or(v.version, "devel"), "commit", cmp.Or(v.commit, "unknown"), "grpc", cfg.GRPCAddr, "transport", transport, "http", cfg.HTTPAddr,
		"gossip", net.JoinHostPort(advertise, strconv.Itoa(f.gossipPort)), "data_dir", f.dataDir, "site", f.site)
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case <-node.Done():
		return node.Err()
	}
}

// startNDMP starts the NDMP server unless it is off (-ndmp-port 0) or its
// port is taken: like iSCSI, NDMP missing on one node does not stop the
// node from moving data. Until it has credentials (-ndmp-password, or the
// cluster's ndmp secret) it waits for them, watching the applied log. It
// returns how to stop it.
func (f *agentFlags) startNDMP(node *cluster.Node, exec *executor.Executor, reg prometheus.Registerer, log *slog.Logger, version string) (stop func()) {
	if f.ndmpPort == 0 {
		return nil
	}
	if !f.runJobs {
		// A session's drive is held under the executor's lease renewals,
		// which a node that runs no jobs does not send: the leader would
		// end every session within a lease.
		log.Info("no NDMP server on this node: -run-jobs=false (NDMP sessions run under the lease of a node that runs jobs)")
		return nil
	}
	methods := f.ndmpMethods()
	creds := ndmpCredentials(node.FSM(), f.ndmpUser, f.ndmpPassword)
	srv, err := ndmpserver.New(ndmpserver.Config{
		Cluster:     ndmpserver.NewNodeCluster(node, exec, log),
		Credentials: creds, Auth: methods,
		DataRoots: splitList(f.ndmpDataRoots), Version: version, Logger: log, Registerer: reg,
	})
	if err != nil {
		log.Error("no NDMP server on this node", "err", err)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, p := creds(); p == "" && !slices.Equal(methods, []ndmpserver.AuthMethod{ndmpserver.AuthNone}) {
			log.Info("no NDMP server on this node yet: it starts once -ndmp-password (or FERRY_NDMP_PASSWORD) is set, or the cluster's secret: ferry acl secret set ndmp user=... password=...")
			if !waitCredentials(ctx, node, creds) {
				return
			}
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(f.bind, strconv.Itoa(f.ndmpPort)))
		if err != nil {
			log.Warn("no NDMP server on this node: its port is taken", "port", f.ndmpPort, "err", err)
			return
		}
		log.Info("NDMP server listening", "addr", ln.Addr().String(), "auth", f.ndmpAuth)
		if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, ndmpserver.ErrClosed) {
			log.Error("NDMP server stopped", "err", err)
		}
		srv.Close()
	}()
	return func() { cancel(); <-done }
}

// ndmpMethods is -ndmp-auth as a list (validate checked it).
func (f *agentFlags) ndmpMethods() []ndmpserver.AuthMethod {
	var out []ndmpserver.AuthMethod
	for _, m := range splitList(f.ndmpAuth) {
		out = append(out, ndmpserver.AuthMethod(strings.ToLower(m)))
	}
	return out
}

// stopGRPC lets calls in flight finish briefly; watch streams never end by
// themselves, so it then closes what remains.
func stopGRPC(gs *grpc.Server) {
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		gs.Stop()
	}
}

func httpHandler(node *cluster.Node, reg *prometheus.Registry, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if !node.Ready() {
			http.Error(w, "not ready: no leader, or the log is not applied up to the commit index", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// chap is the iSCSI CHAP configuration the flags ask for, nil for none.
func (f *agentFlags) chap() (*iscsi.CHAPConfig, error) {
	switch {
	case f.chapUser == "" && f.chapSecret == "" && f.chapMutualUser == "" && f.chapMutualSecret == "":
		return nil, nil
	case f.chapUser == "" || f.chapSecret == "":
		return nil, errors.New("-iscsi-chap-user and -iscsi-chap-secret go together")
	case (f.chapMutualUser == "") != (f.chapMutualSecret == ""):
		return nil, errors.New("-iscsi-chap-mutual-user and -iscsi-chap-mutual-secret go together")
	}
	return &iscsi.CHAPConfig{User: f.chapUser, Secret: f.chapSecret, MutualUser: f.chapMutualUser, MutualSecret: f.chapMutualSecret}, nil
}

// loadTLS reads the node's TLS files (nil when it runs in plaintext, which
// it then says loudly) and keeps them reloaded until ctx ends. The
// certificate must be this node's.
func (f *agentFlags) loadTLS(ctx context.Context, log *slog.Logger) (*mtls.Store, error) {
	if f.tlsCA == "" {
		log.Warn("gRPC and Raft in PLAINTEXT: anyone who reaches this node's gRPC port can register devices, copy over them and join the cluster; give -tls-ca, -tls-cert and -tls-key to secure it", "insecure", f.insecure, "dev", f.dev)
		return nil, nil
	}
	store, err := mtls.Load(mtls.Config{Files: mtls.Files{CA: f.tlsCA, Cert: f.tlsCert, Key: f.tlsKey}, Cluster: f.clusterName, Logger: log})
	if err != nil {
		return nil, err
	}
	if id := store.Identity(); id.Role != pki.RoleNode || id.Name != f.node {
		return nil, fmt.Errorf("-tls-cert %s is the certificate of %s, not of node %q", f.tlsCert, id, f.node)
	}
	go store.Watch(ctx)
	log.Info("mutual TLS on", "identity", store.Identity(), "expires", store.NotAfter())
	return store, nil
}
