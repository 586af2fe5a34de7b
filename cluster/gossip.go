package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// GossipMember is one node as gossip sees it.
type GossipMember struct {
	Name       string
	RaftID     uint64
	ClusterID  string
	Site       string
	GRPCAddr   string
	HTTPAddr   string
	GossipAddr string
	// Transport is how the member serves gRPC and Raft, as it says.
	Transport ferryv1.Transport
	// Keys are the fingerprints of the member's gossip keys, primary
	// first, as it says.
	Keys []string
	// State is ALIVE, DEAD or LEFT, never SUSPECT: memberlist keeps its
	// suspicions to itself. It marks them only in its private nodeState
	// (the State of every Node it hands out stays zero, StateAlive), and no
	// delegate is told of one (a merge delegate sees a peer's view, and
	// only at a push-pull sync). A suspected member shows ALIVE until it is
	// declared dead.
	State ferryv1.GossipState
	// Since is when the member entered State, as this node observed it.
	Since time.Time
}

// nodeMeta is what a node tells the others about itself through gossip.
type nodeMeta struct {
	ClusterID string `json:"c,omitempty"`
	RaftID    uint64 `json:"r"`
	Site      string `json:"s,omitempty"`
	GRPC      string `json:"g,omitempty"`
	HTTP      string `json:"h,omitempty"`
	// Transport says whether the node serves mutual TLS or plaintext,
	// so that every member list shows a plaintext node as such.
	Transport ferryv1.Transport `json:"t,omitempty"`
	// Keys are the fingerprints of the node's gossip keys, primary first:
	// a key change waits for every live member to report it.
	Keys []string `json:"k,omitempty"`
	// Leaving says the node is leaving gracefully: it says so just before
	// memberlist's leave, as Serf does, so that the others record it LEFT
	// rather than DEAD once it is gone (memberlist tells a leave from a
	// death only in its private state, see GossipMember.State).
	Leaving bool `json:"l,omitempty"`
}

type gossipConfig struct {
	name string
	// label keeps clusters of different names from gossiping with each other.
	label     string
	bindAddr  string
	advertise string
	port      int
	adPort    int
	meta      nodeMeta
	// keys encrypt gossip (AES-GCM, memberlist's keyring): the first
	// encrypts, every one decrypts. None: plaintext gossip.
	keys   [][]byte
	logger *slog.Logger
}

func (n *Node) gossipConfig(keys [][]byte) gossipConfig {
	return gossipConfig{
		name:      n.cfg.NodeName,
		label:     n.cfg.ClusterName,
		bindAddr:  n.cfg.BindAddr,
		advertise: n.cfg.AdvertiseAddr,
		port:      n.cfg.GossipPort,
		adPort:    n.cfg.GossipAdvertisePort,
		meta: nodeMeta{
			RaftID: n.id, Site: n.cfg.Site, GRPC: n.cfg.GRPCAddr, HTTP: n.cfg.HTTPAddr, Transport: n.Serving(),
		},
		keys:   keys,
		logger: n.log.With("component", "gossip"),
	}
}

// Gossip wraps memberlist: it advertises this node's metadata and keeps the
// state of every member seen, including dead ones (memberlist forgets those).
type Gossip struct {
	cfg  gossipConfig
	list *memberlist.Memberlist
	// newcomer is set while a node without a Raft identity joins: only
	// then does a second claim on its name make this node give way. An
	// established member keeps running and the newcomer is the one refused.
	newcomer atomic.Bool

	// keyring is memberlist's, nil for plaintext gossip.
	keyring *memberlist.Keyring
	// localAddr is this node's gossip address, read once at start.
	localAddr string

	// metaMu guards meta and orders keyring changes.
	metaMu sync.Mutex
	meta   nodeMeta
	// metaChanged asks publishMeta to broadcast meta; stopMeta ends it.
	metaChanged, stopMeta chan struct{}
	metaDone              chan struct{}

	mu      sync.Mutex
	members map[string]*GossipMember

	conflicts  chan struct{}
	conflicted atomic.Bool
	changed    atomic.Pointer[chan struct{}]
}

func startGossip(cfg gossipConfig) (*Gossip, error) {
	g := &Gossip{cfg: cfg, meta: cfg.meta, members: map[string]*GossipMember{}, conflicts: make(chan struct{}, 1),
		metaChanged: make(chan struct{}, 1), stopMeta: make(chan struct{}), metaDone: make(chan struct{})}
	ch := make(chan struct{})
	g.changed.Store(&ch)
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.name
	mc.BindAddr = cfg.bindAddr
	mc.BindPort = cfg.port
	mc.Label = cfg.label
	mc.AdvertiseAddr = cfg.advertise
	mc.AdvertisePort = cfg.adPort
	mc.Delegate = (*gossipDelegate)(g)
	mc.Events = (*gossipEvents)(g)
	mc.Conflict = (*gossipConflicts)(g)
	// A node restarted on a new address may take its name back once the old
	// incarnation has been dead this long.
	mc.DeadNodeReclaimTime = 30 * time.Second
	mc.Logger = log.New(&memberlistLog{cfg.logger}, "", 0)
	if len(cfg.keys) > 0 {
		kr, err := memberlist.NewKeyring(cfg.keys, cfg.keys[0])
		if err != nil {
			return nil, fmt.Errorf("gossip keyring: %w", err)
		}
		// Every packet in and out is encrypted and authenticated: a
		// node without the key can neither join nor be heard.
		mc.Keyring, mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = kr, true, true
		g.keyring = kr
		g.meta.Keys = fingerprints(kr.GetKeys())
	}
	list, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip on %s:%d: %w", cfg.bindAddr, cfg.port, err)
	}
	g.list = list
	// Read once, before anything else can touch the local node: later
	// reads would race with UpdateNode (publishMeta), which rewrites the
	// local node's fields without a lock its callers can take.
	g.localAddr = list.LocalNode().Address()
	go g.publishMeta()
	return g, nil
}

// publishMeta broadcasts this node's metadata after each change, one
// broadcast at a time: two at once could reach the others in the wrong
// order, the older metadata with the newer incarnation, and stay there.
// Nothing waits for it (a keyring change comes from the apply loop).
func (g *Gossip) publishMeta() {
	defer close(g.metaDone)
	for {
		select {
		case <-g.stopMeta:
			return
		case <-g.metaChanged:
		}
		if err := g.list.UpdateNode(time.Second); err != nil {
			g.cfg.logger.Debug("metadata broadcast still pending", "err", err)
		}
	}
}

// errPlaintextGossip: a keyring change on a node that gossips in
// plaintext, which memberlist cannot encrypt once it runs.
var errPlaintextGossip = errors.New("this node gossips in plaintext (no -gossip-key at start)")

// Keys returns a copy of the gossip keyring, primary first.
func (g *Gossip) Keys() [][]byte {
	if g.keyring == nil {
		return nil
	}
	var out [][]byte
	for _, k := range g.keyring.GetKeys() {
		out = append(out, bytes.Clone(k))
	}
	return out
}

// SetKeys makes the keyring keys, the first primary: it adds the new keys
// before it switches the primary, and drops the others last, so that
// this node reads every key a member may still encrypt with. The members
// learn the keys' fingerprints from this node's metadata.
func (g *Gossip) SetKeys(keys [][]byte) error {
	if g.keyring == nil {
		return errPlaintextGossip
	}
	g.metaMu.Lock()
	defer g.metaMu.Unlock()
	for _, k := range keys {
		if err := g.keyring.AddKey(k); err != nil {
			return err
		}
	}
	if err := g.keyring.UseKey(keys[0]); err != nil {
		return err
	}
	for _, k := range g.Keys() {
		if !slices.ContainsFunc(keys, func(w []byte) bool { return bytes.Equal(w, k) }) {
			if err := g.keyring.RemoveKey(k); err != nil {
				return err
			}
		}
	}
	g.meta.Keys = fingerprints(g.keyring.GetKeys())
	select {
	case g.metaChanged <- struct{}{}:
	default: // a broadcast is due anyway, and reads the metadata then
	}
	return nil
}

func fingerprints(keys [][]byte) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fsm.GossipKeyFingerprint(k)
	}
	return out
}

// ErrNameTaken means another live node already gossips under this node's name.
var ErrNameTaken = errors.New("another live node already has this name")

// Join contacts the given gossip addresses; it succeeds if any answered and
// none of them knows a live node by this node's name.
func (g *Gossip) Join(addrs []string) error {
	if _, err := g.list.Join(addrs); err != nil {
		return err
	}
	if g.conflicted.Load() {
		return fmt.Errorf("%w: refusing to run twice as %q", ErrNameTaken, g.cfg.name)
	}
	return nil
}

// keyHint says what a message refused for its encryption means, on the
// joining side and the refusing one: memberlist's own words ("no installed
// keys could decrypt the message", "remote state is encrypted and
// encryption is not configured") name neither the flag nor the keyring.
func keyHint(msg string) string {
	if strings.Contains(msg, "decrypt") || strings.Contains(msg, "encrypt") {
		return " (the gossip keys differ: every node needs the cluster's -gossip-key, or its current key after a rotation: see ferry keyring list)"
	}
	return ""
}

// WaitClusterID waits until a member advertises its cluster id: a new node
// learns which cluster it joins from gossip.
func (g *Gossip) WaitClusterID(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		changed := g.Changed()
		for _, m := range g.Members() {
			if m.ClusterID != "" && m.Name != g.cfg.name {
				return m.ClusterID, nil
			}
		}
		select {
		case <-changed:
		case <-g.conflicts:
			return "", fmt.Errorf("%w: refusing to run twice as %q", ErrNameTaken, g.cfg.name)
		case <-ctx.Done():
			return "", fmt.Errorf("no member of the joined cluster advertised a cluster id: %w", ctx.Err())
		}
	}
}

// SetClusterID advertises the cluster id once it is known. The new metadata
// takes effect locally at once and spreads by gossip and push-pull syncs, so
// a slow broadcast is no reason to fail.
func (g *Gossip) SetClusterID(id string) error {
	g.metaMu.Lock()
	g.meta.ClusterID = id
	g.metaMu.Unlock()
	if err := g.list.UpdateNode(time.Second); err != nil {
		g.cfg.logger.Debug("metadata broadcast still pending", "err", err)
	}
	return nil
}

// JoinAsNewcomer is Join for a node that is not yet a member: if a live node
// already has this node's name, it fails with ErrNameTaken.
func (g *Gossip) JoinAsNewcomer(addrs []string) error {
	g.newcomer.Store(true)
	return g.Join(addrs)
}

// Established ends the newcomer period: later name conflicts are logged, and
// the newcomer on the other side is the one to give way.
func (g *Gossip) Established() { g.newcomer.Store(false) }

// Changed returns a channel closed at the next membership change.
func (g *Gossip) Changed() <-chan struct{} { return *g.changed.Load() }

func (g *Gossip) notifyChanged() {
	ch := make(chan struct{})
	old := g.changed.Swap(&ch)
	close(*old)
}

// Members returns every member ever seen since start, with its latest state.
func (g *Gossip) Members() []GossipMember {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]GossipMember, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, *m)
	}
	return out
}

// MemberByID finds a member by Raft id.
func (g *Gossip) MemberByID(id uint64) (GossipMember, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		if m.RaftID == id {
			return *m, true
		}
	}
	return GossipMember{}, false
}

// LocalAddr is the gossip address other members reach this node at.
func (g *Gossip) LocalAddr() string { return g.localAddr }

// rejoin contacts failed members' addresses for the reconnector and returns
// how many answered. Unlike Join it is no newcomer's check: an established
// member keeps its name.
func (g *Gossip) rejoin(addrs []string) (int, error) { return g.list.Join(addrs) }

// Leave tells the others this node is leaving, then stops gossiping. It
// takes about timeout at most: half for the announcement, the rest for
// memberlist's leave.
func (g *Gossip) Leave(timeout time.Duration) {
	close(g.stopMeta)
	<-g.metaDone
	deadline := time.Now().Add(timeout)
	g.announceLeaving(timeout / 2)
	if err := g.list.Leave(time.Until(deadline)); err != nil {
		g.cfg.logger.Warn("leave gossip", "err", err)
	}
	if err := g.list.Shutdown(); err != nil {
		g.cfg.logger.Warn("stop gossip", "err", err)
	}
}

// announceLeaving puts Leaving in this node's metadata and waits up to
// timeout for the broadcast to go out. It must go out before the leave:
// memberlist keeps one broadcast per node, so the leave's would replace
// it. A member that misses it records this node DEAD, as after a crash.
func (g *Gossip) announceLeaving(timeout time.Duration) {
	g.metaMu.Lock()
	g.meta.Leaving = true
	g.metaMu.Unlock()
	if err := g.list.UpdateNode(timeout); err != nil {
		g.cfg.logger.Warn("leave announcement not sent in time: members that missed it will see this node dead, not left", "err", err)
	}
}

// memberState is what a member is recorded as: ALIVE while memberlist
// counts it in, and once it is out LEFT if its latest metadata said it
// was leaving, DEAD otherwise. A node back after a leave says it is not
// leaving any more.
func memberState(meta nodeMeta, in bool) ferryv1.GossipState {
	switch {
	case in:
		return ferryv1.GossipState_GOSSIP_STATE_ALIVE
	case meta.Leaving:
		return ferryv1.GossipState_GOSSIP_STATE_LEFT
	default:
		return ferryv1.GossipState_GOSSIP_STATE_DEAD
	}
}

// record notes a member's latest metadata and state; in says whether
// memberlist counts it in (joined or updated) or out (left or dead).
func (g *Gossip) record(n *memberlist.Node, in bool) {
	var meta nodeMeta
	if len(n.Meta) > 0 {
		if err := json.Unmarshal(n.Meta, &meta); err != nil {
			g.cfg.logger.Warn("ignoring member with unreadable metadata", "member", n.Name, "err", err)
			return
		}
	}
	state := memberState(meta, in)
	g.mu.Lock()
	prev, ok := g.members[n.Name]
	m := &GossipMember{
		Name: n.Name, RaftID: meta.RaftID, ClusterID: meta.ClusterID, Site: meta.Site,
		GRPCAddr: meta.GRPC, HTTPAddr: meta.HTTP, Transport: meta.Transport, Keys: meta.Keys,
		GossipAddr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
		State:      state, Since: time.Now(),
	}
	if ok && prev.State == state {
		m.Since = prev.Since
	}
	g.members[n.Name] = m
	g.mu.Unlock()
	if !ok || prev.State != state {
		g.cfg.logger.Info("gossip member state", "member", n.Name, "state", strings.TrimPrefix(state.String(), "GOSSIP_STATE_"), "addr", m.GossipAddr)
	}
	g.notifyChanged()
}

type gossipDelegate Gossip

func (d *gossipDelegate) NodeMeta(limit int) []byte {
	d.metaMu.Lock()
	defer d.metaMu.Unlock()
	b, _ := json.Marshal(d.meta)
	if len(b) > limit {
		return nil
	}
	return b
}
func (d *gossipDelegate) NotifyMsg([]byte)                           {}
func (d *gossipDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *gossipDelegate) LocalState(join bool) []byte                { return nil }
func (d *gossipDelegate) MergeRemoteState(buf []byte, join bool)     {}

type gossipEvents Gossip

func (e *gossipEvents) NotifyJoin(n *memberlist.Node)   { (*Gossip)(e).record(n, true) }
func (e *gossipEvents) NotifyUpdate(n *memberlist.Node) { (*Gossip)(e).record(n, true) }

// NotifyLeave is called for a leave and a death alike: n.State does not
// say which (see GossipMember.State), the metadata does.
func (e *gossipEvents) NotifyLeave(n *memberlist.Node) { (*Gossip)(e).record(n, false) }

type gossipConflicts Gossip

func (c *gossipConflicts) NotifyConflict(existing, other *memberlist.Node) {
	g := (*Gossip)(c)
	g.cfg.logger.Error("two nodes claim one name", "name", existing.Name,
		"mine", net.JoinHostPort(existing.Addr.String(), strconv.Itoa(int(existing.Port))),
		"theirs", net.JoinHostPort(other.Addr.String(), strconv.Itoa(int(other.Port))))
	if existing.Name == g.cfg.name && g.newcomer.Load() {
		g.conflicted.Store(true)
		select {
		case g.conflicts <- struct{}{}:
		default:
		}
	}
}

// memberlistLog turns memberlist's "[LEVEL] text" lines into slog records,
// keeping its chatty DEBUG lines at debug level.
type memberlistLog struct{ l *slog.Logger }

func (w *memberlistLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	level := slog.LevelDebug
	switch {
	case strings.HasPrefix(line, "[ERR]"):
		level = slog.LevelError
	case strings.HasPrefix(line, "[WARN]"):
		level = slog.LevelWarn
	case strings.HasPrefix(line, "[INFO]"):
		level = slog.LevelInfo
	}
	if i := strings.Index(line, "] "); i >= 0 && strings.HasPrefix(line, "[") {
		line = line[i+2:]
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	w.l.Log(context.Background(), level, line+keyHint(line))
	return len(p), nil
}
