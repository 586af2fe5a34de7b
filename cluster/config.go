package cluster

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-san/ferry/security/mtls"
)

// Config configures a Node. Zero values take the defaults documented on each
// field; DefaultConfig returns them filled in.
type Config struct {
	// NodeName is this node's unique name in the cluster. Required.
	NodeName string
	// ClusterName labels the cluster (and its iSCSI target later). Default "ferry".
	ClusterName string
	// Site is the data-centre site the node belongs to. Default "default".
	Site string
	// Reach narrows the devices this node can reach: disk names, library
	// names (all drives) or "LIB/N" (drive N). Empty means every device of
	// its site, as a SAN fabric zoned per site would give it.
	Reach []string
	// Mover says the node runs copy jobs; the scheduler places jobs only
	// on movers. Default false (the agent sets it from -run-jobs).
	Mover bool
	// ISCSIPortal and ISCSITarget are the node's iSCSI portal ("host:port")
	// and target name, recorded for SendTargets and clients; empty when the
	// node serves no iSCSI target.
	ISCSIPortal, ISCSITarget string
	// DataDir holds the node's bbolt file (raft.db). Required.
	DataDir string

	// BindAddr is the address every listener binds to. Default 127.0.0.1.
	BindAddr string
	// AdvertiseAddr is the address peers and clients use to reach this node.
	// Default BindAddr.
	AdvertiseAddr string
	// GRPCAddr and HTTPAddr are advertised to peers in gossip metadata
	// ("host:port"); the listeners themselves belong to the caller.
	GRPCAddr string
	HTTPAddr string
	// GossipPort is the memberlist TCP/UDP port. Default 7201.
	GossipPort int
	// GossipAdvertisePort is the gossip port peers use, when something (a
	// NAT, a test's fault-injecting proxy) stands in front of GossipPort.
	// Default GossipPort.
	GossipAdvertisePort int
	// Join lists gossip addresses of existing members. Empty with an empty
	// data dir bootstraps a new one-node cluster.
	Join []string

	// TickInterval is one Raft logical clock tick. Default 100ms.
	TickInterval time.Duration
	// ElectionTicks is the election timeout in ticks. Default 10 (1 s).
	// Followers wait this long without hearing from a leader before they
	// pre-vote; CheckQuorum makes a leader that cannot reach a quorum for the
	// same period step down.
	ElectionTicks int
	// HeartbeatTicks is the leader's heartbeat period in ticks. Default 1.
	HeartbeatTicks int

	// SnapshotEntries is how many applied entries trigger a snapshot and log
	// compaction. Default 10000.
	SnapshotEntries uint64
	// CatchUpEntries is how many entries are kept behind a snapshot so that a
	// slightly lagging follower catches up from the log, not a snapshot.
	// Default 5000, capped at SnapshotEntries.
	CatchUpEntries uint64

	// MaxVoters is the most Raft voters the membership controller promotes;
	// it keeps the voter count odd. Default 5.
	MaxVoters int
	// DeadNodeTimeout is how long gossip must report a node dead before the
	// leader removes it from Raft. Default 72h: a node that is down for
	// maintenance must not lose its membership. `ferry members remove` removes
	// at once.
	DeadNodeTimeout time.Duration
	// Reconnect says how this node reaches out to failed members so that
	// gossip heals after a partition. Interval defaults to 10s, Timeout to
	// DeadNodeTimeout.
	Reconnect ReconnectConfig
	// PromoteLag is how many entries a learner may trail the leader's last
	// index and still be promoted to voter. Default 100.
	PromoteLag uint64

	// TLS, when set, secures this node's connections to its peers (Raft,
	// lease renewals) with mutual TLS, each checked to reach the node it
	// dials, and makes Raft messages come from the certificate of the
	// member they claim; the caller serves gRPC with
	// TLS.ServerCredentials() and PeerAuth(ClusterName). Nil: plaintext.
	TLS *mtls.Store
	// GossipKeys encrypt gossip (memberlist's AES-GCM keyring; each key 16,
	// 24 or 32 bytes): the first encrypts, all decrypt, so that a key can
	// be rolled out before it is used. None: plaintext gossip, which any
	// process that reaches the gossip port can join.
	GossipKeys [][]byte

	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the node's Prometheus collectors. Default: none
	// registered.
	Registerer prometheus.Registerer
}

// DefaultConfig returns a Config with every default filled in and the
// required fields empty.
func DefaultConfig() Config {
	var c Config
	c.setDefaults()
	return c
}

func (c *Config) setDefaults() {
	if c.ClusterName == "" {
		c.ClusterName = "ferry"
	}
	if c.Site == "" {
		c.Site = "default"
	}
	if c.BindAddr == "" {
		c.BindAddr = "127.0.0.1"
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.BindAddr
	}
	if c.GossipPort == 0 {
		c.GossipPort = 7201
	}
	if c.GossipAdvertisePort == 0 {
		c.GossipAdvertisePort = c.GossipPort
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = 10000
	}
	if c.CatchUpEntries == 0 {
		c.CatchUpEntries = 5000
	}
	if c.CatchUpEntries > c.SnapshotEntries {
		c.CatchUpEntries = c.SnapshotEntries
	}
	if c.MaxVoters == 0 {
		c.MaxVoters = 5
	}
	if c.DeadNodeTimeout == 0 {
		c.DeadNodeTimeout = 72 * time.Hour
	}
	if c.Reconnect.Interval == 0 {
		c.Reconnect.Interval = 10 * time.Second
	}
	if c.Reconnect.Timeout == 0 {
		c.Reconnect.Timeout = c.DeadNodeTimeout
	}
	if c.PromoteLag == 0 {
		c.PromoteLag = 100
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
