package fsm

import (
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/security/acl"
)

// FSM holds the replicated state. The Raft apply loop writes it through
// Apply, AddNode, RemoveNode and Restore; any number of readers may call the
// read methods at the same time. Nothing it returns aliases its state.
type FSM struct {
	mu sync.RWMutex
	st *state
	// feed is the change feed (ChangesSince).
	feed feed
}

// state is everything a snapshot carries, plus indexes derived from it.
// Devices share two namespaces: a DeviceRef names a disk or a cartridge, so
// disk names and barcodes must not collide, and an NAA designator identifies
// exactly one device of either kind.
// Restore builds a whole new state and swaps it in, so a bad snapshot never
// leaves a half-restored machine behind.
type state struct {
	applied uint64
	jobs    map[string]*ferryv1.Job
	// order holds the jobs sorted by (created_index, id) for paging.
	order   []*ferryv1.Job
	byKey   map[string]string // idempotency key → job id
	nodes   map[uint64]*ferryv1.NodeInfo
	removed map[uint64]struct{}

	disks      map[string]*ferryv1.Disk
	libraries  map[string]*tapeLibrary
	cartridges map[string]*ferryv1.Cartridge
	// naas maps a lower-case NAA designator to the disk name or barcode.
	naas map[string]string
	// paths maps a device's file to the disk name or barcode, so that no
	// file is reachable under two names.
	paths map[string]string
	// files maps the identity of every registered disk's, cartridge's and
	// library's file (identityKey) to a description of its device, so that
	// no file is registered twice under any path.
	files map[string]string
	// holders maps the barcode of every loaded cartridge to the running job
	// it is loaded for.
	holders map[string]string
	// lastLUN is the highest disk LUN ever given (StateSnapshot.last_lun).
	lastLUN uint32
	// pools by name, and poolOf maps every member barcode to its pool
	// (pools.go).
	pools  map[string]*ferryv1.Pool
	poolOf map[string]string
	// ACLs (acl.go): tokens by name and by their secret's hash, secrets
	// by name.
	aclBootstrapped bool
	tokens          map[string]*ferryv1.AclToken
	tokenByHash     map[acl.Hash]string
	secrets         map[string]*ferryv1.Secret
	// The audit trail (audit.go): records in seq order, the ids of those
	// kept, the last seq given and how many records the cap dropped.
	auditRecords []*ferryv1.AuditRecord
	auditIDs     map[auditID]struct{}
	auditSeq     uint64
	auditCapped  uint64
	// gossipKeys is the gossip keyring, primary first (keyring.go).
	gossipKeys [][]byte
}

func newState() *state {
	return &state{
		jobs:    make(map[string]*ferryv1.Job),
		byKey:   make(map[string]string),
		nodes:   make(map[uint64]*ferryv1.NodeInfo),
		removed: make(map[uint64]struct{}),

		disks:      make(map[string]*ferryv1.Disk),
		libraries:  make(map[string]*tapeLibrary),
		cartridges: make(map[string]*ferryv1.Cartridge),
		naas:       make(map[string]string),
		paths:      make(map[string]string),
		files:      make(map[string]string),
		holders:    make(map[string]string),
		pools:      make(map[string]*ferryv1.Pool),
		poolOf:     make(map[string]string),

		tokens:      make(map[string]*ferryv1.AclToken),
		tokenByHash: make(map[acl.Hash]string),
		secrets:     make(map[string]*ferryv1.Secret),

		auditIDs: make(map[auditID]struct{}),
	}
}

// New returns an empty state machine at applied index 0.
func New() *FSM {
	return &FSM{st: newState()}
}

// Result is the outcome of applying one command. When Err is nil exactly
// one of Job, Disk, Library, Cartridge, Pool, Token, Secret and Batch is set, matching the
// command's op, except after a SetNodeOp, an AuditOp, a PruneAuditOp or
// a GossipKeyOp, which return none of them. When
// Err is set, none is.
type Result struct {
	// Job is a copy of the job after a job command.
	Job *ferryv1.Job
	// Disk is a copy of the disk a RegisterDiskOp registered, or of the
	// disk after a ReserveOp, with its new reservations.
	Disk *ferryv1.Disk
	// Effect is what a ReserveOp asks of every node's target beyond the new
	// reservations: tasks to abort, unit attentions to establish.
	Effect pr.Effect
	// Library is a copy of the library a RegisterLibraryOp registered, with
	// its (empty) inventory.
	Library *ferryv1.Library
	// Cartridge is a copy of the cartridge an AddCartridgeOp added.
	Cartridge *ferryv1.Cartridge
	// Pool is a copy of the pool a CreatePoolOp created, with its counts.
	Pool *ferryv1.Pool
	// Token is a copy of the token a BootstrapAclOp or CreateTokenOp
	// created or a RevokeTokenOp deleted, without its hash.
	Token *ferryv1.AclToken
	// Secret is a copy of the secret a SetSecretOp set, without its
	// values.
	Secret *ferryv1.SecretInfo
	// Batch holds one result per checkpoint of a CheckpointJobsOp, or per
	// job of a WaitJobsOp or PlaceJobsOp, in order.
	Batch []Result
	// Index is the entry's Raft index, for an EraseCartridgeOp (the epoch
	// the eraser claims the cartridge's fence with) and a ReserveOp (what
	// the proposer waits for every node to have applied).
	Index uint64
	// Existing reports that a submit matched a job that already existed, by
	// idempotency key or because the same job id was proposed again (as
	// happens when a proposal is retried across a leader change), or that a
	// start, checkpoint, wait or node update was such a retry and changed
	// nothing.
	Existing bool
	// Err wraps one of the package's sentinel errors.
	Err error
}

// Apply applies the command committed at the Raft index. Given the same
// state and the same arguments it always produces the same state and Result.
// The index is recorded as applied even when the command fails, because the
// failure itself is the entry's deterministic outcome. A failed command
// changes nothing. A CheckpointJobsOp succeeds as a whole when its batch is
// well-formed; each checkpoint's own outcome is in Result.Batch.
//
// Indexes must increase from call to call, as Raft delivers them; the
// applied index never moves backwards.
func (f *FSM) Apply(index uint64, cmd *ferryv1.Command) Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.apply(index, cmd)
	f.feed.note(f.st, cmd, r)
	return r
}

// apply is Apply with the lock held.
func (f *FSM) apply(index uint64, cmd *ferryv1.Command) Result {
	f.st.advance(index)

	var r Result
	switch op := cmd.GetOp().(type) {
	case *ferryv1.Command_SubmitJob:
		if op.SubmitJob == nil {
			return Result{Err: noBody("submit_job")}
		}
		r.Job, r.Existing, r.Err = f.st.submitJob(index, cmd, op.SubmitJob)
	case *ferryv1.Command_CancelJob:
		if op.CancelJob == nil {
			return Result{Err: noBody("cancel_job")}
		}
		r.Job, r.Err = f.st.cancelJob(index, cmd, op.CancelJob)
	case *ferryv1.Command_RegisterDisk:
		if op.RegisterDisk == nil {
			return Result{Err: noBody("register_disk")}
		}
		r.Disk, r.Err = f.st.registerDisk(cmd, op.RegisterDisk)
	case *ferryv1.Command_RegisterLibrary:
		if op.RegisterLibrary == nil {
			return Result{Err: noBody("register_library")}
		}
		r.Library, r.Err = f.st.registerLibrary(cmd, op.RegisterLibrary)
	case *ferryv1.Command_AddCartridge:
		if op.AddCartridge == nil {
			return Result{Err: noBody("add_cartridge")}
		}
		r.Cartridge, r.Err = f.st.addCartridge(cmd, op.AddCartridge)
	case *ferryv1.Command_ProtectCartridge:
		if op.ProtectCartridge == nil {
			return Result{Err: noBody("protect_cartridge")}
		}
		r.Cartridge, r.Err = f.st.protectCartridge(cmd, op.ProtectCartridge)
	case *ferryv1.Command_RemoveDevice:
		if op.RemoveDevice == nil {
			return Result{Err: noBody("remove_device")}
		}
		// The device is gone: its copy was made before, not by copyOut.
		res, err := f.st.removeDevice(cmd, op.RemoveDevice)
		if err != nil {
			return Result{Err: err}
		}
		return res
	case *ferryv1.Command_EraseCartridge:
		if op.EraseCartridge == nil {
			return Result{Err: noBody("erase_cartridge")}
		}
		c, err := f.st.eraseCartridge(cmd, op.EraseCartridge)
		if err != nil {
			return Result{Err: err}
		}
		return Result{Cartridge: c, Index: index}
	case *ferryv1.Command_Reserve:
		if op.Reserve == nil {
			return Result{Err: noBody("reserve")}
		}
		r.Disk, r.Effect, r.Err = f.st.reserve(cmd, op.Reserve)
		r.Index = index
	case *ferryv1.Command_StartJob:
		if op.StartJob == nil {
			return Result{Err: noBody("start_job")}
		}
		r.Job, r.Existing, r.Err = f.st.startJob(index, cmd, op.StartJob)
	case *ferryv1.Command_CheckpointJob:
		if op.CheckpointJob == nil {
			return Result{Err: noBody("checkpoint_job")}
		}
		r.Job, r.Existing, r.Err = f.st.checkpointJob(index, cmd, op.CheckpointJob)
	case *ferryv1.Command_FinishJob:
		if op.FinishJob == nil {
			return Result{Err: noBody("finish_job")}
		}
		r.Job, r.Err = f.st.finishJob(index, cmd, op.FinishJob)
	case *ferryv1.Command_PlaceJob:
		if op.PlaceJob == nil {
			return Result{Err: noBody("place_job")}
		}
		r.Job, r.Err = f.st.placeJob(index, cmd, op.PlaceJob)
	case *ferryv1.Command_PlaceJobs:
		if op.PlaceJobs == nil {
			return Result{Err: noBody("place_jobs")}
		}
		batch, err := f.st.placeJobs(index, cmd, op.PlaceJobs)
		f.syncParents(index, cmd, batch)
		return Result{Batch: batch, Err: err}
	case *ferryv1.Command_WaitJob:
		if op.WaitJob == nil {
			return Result{Err: noBody("wait_job")}
		}
		r.Job, r.Existing, r.Err = f.st.waitJob(cmd, op.WaitJob)
	case *ferryv1.Command_WaitJobs:
		if op.WaitJobs == nil {
			return Result{Err: noBody("wait_jobs")}
		}
		batch, err := f.st.waitJobs(cmd, op.WaitJobs)
		return Result{Batch: batch, Err: err}
	case *ferryv1.Command_CheckpointJobs:
		if op.CheckpointJobs == nil {
			return Result{Err: noBody("checkpoint_jobs")}
		}
		batch, err := f.st.checkpointJobs(index, cmd, op.CheckpointJobs)
		f.syncParents(index, cmd, batch)
		return Result{Batch: batch, Err: err}
	case *ferryv1.Command_MoveMedium:
		if op.MoveMedium == nil {
			return Result{Err: noBody("move_medium")}
		}
		r.Cartridge, r.Err = f.st.moveMedium(cmd, op.MoveMedium)
	case *ferryv1.Command_OpenNdmpSession:
		if op.OpenNdmpSession == nil {
			return Result{Err: noBody("open_ndmp_session")}
		}
		r.Job, r.Existing, r.Err = f.st.openNdmpSession(index, cmd, op.OpenNdmpSession)
	case *ferryv1.Command_EndNdmpSession:
		if op.EndNdmpSession == nil {
			return Result{Err: noBody("end_ndmp_session")}
		}
		r.Job, r.Err = f.st.endNdmpSession(index, cmd, op.EndNdmpSession)
	case *ferryv1.Command_SpanJob:
		if op.SpanJob == nil {
			return Result{Err: noBody("span_job")}
		}
		r.Job, r.Err = f.st.spanJob(index, cmd, op.SpanJob)
	case *ferryv1.Command_SpanWait:
		if op.SpanWait == nil {
			return Result{Err: noBody("span_wait")}
		}
		r.Job, r.Existing, r.Err = f.st.spanWait(index, cmd, op.SpanWait)
	case *ferryv1.Command_CreatePool:
		if op.CreatePool == nil {
			return Result{Err: noBody("create_pool")}
		}
		r.Pool, r.Err = f.st.createPool(cmd, op.CreatePool)
	case *ferryv1.Command_BootstrapAcl:
		if op.BootstrapAcl == nil {
			return Result{Err: noBody("bootstrap_acl")}
		}
		r.Token, r.Err = f.st.bootstrapACL(cmd, op.BootstrapAcl)
	case *ferryv1.Command_CreateToken:
		if op.CreateToken == nil {
			return Result{Err: noBody("create_token")}
		}
		r.Token, r.Err = f.st.createToken(cmd, op.CreateToken)
	case *ferryv1.Command_RevokeToken:
		if op.RevokeToken == nil {
			return Result{Err: noBody("revoke_token")}
		}
		r.Token, r.Err = f.st.revokeToken(cmd, op.RevokeToken)
	case *ferryv1.Command_SetSecret:
		if op.SetSecret == nil {
			return Result{Err: noBody("set_secret")}
		}
		var sec *ferryv1.Secret
		sec, r.Err = f.st.setSecret(cmd, op.SetSecret)
		if r.Err == nil {
			r.Secret = SecretInfo(sec)
		}
	case *ferryv1.Command_Audit:
		if op.Audit == nil {
			return Result{Err: noBody("audit")}
		}
		r.Err = f.st.audit(op.Audit)
	case *ferryv1.Command_PruneAudit:
		if op.PruneAudit == nil {
			return Result{Err: noBody("prune_audit")}
		}
		r.Err = f.st.pruneAudit(op.PruneAudit)
	case *ferryv1.Command_InstallGossipKey:
		if op.InstallGossipKey == nil {
			return Result{Err: noBody("install_gossip_key")}
		}
		r.Existing, r.Err = f.st.changeGossipKeys(cmd, installGossipKey, op.InstallGossipKey)
	case *ferryv1.Command_UseGossipKey:
		if op.UseGossipKey == nil {
			return Result{Err: noBody("use_gossip_key")}
		}
		r.Existing, r.Err = f.st.changeGossipKeys(cmd, useGossipKey, op.UseGossipKey)
	case *ferryv1.Command_RemoveGossipKey:
		if op.RemoveGossipKey == nil {
			return Result{Err: noBody("remove_gossip_key")}
		}
		r.Existing, r.Err = f.st.changeGossipKeys(cmd, removeGossipKey, op.RemoveGossipKey)
	case *ferryv1.Command_SetNode:
		if op.SetNode == nil {
			return Result{Err: noBody("set_node")}
		}
		r.Existing, r.Err = f.st.setNode(cmd, op.SetNode)
	default:
		// A nil command, no op, or an op from a newer version that this
		// binary cannot interpret.
		return Result{Err: fmt.Errorf("%w: entry %d carries no known operation", ErrUnknownCommand, index)}
	}
	if r.Err != nil {
		return Result{Err: r.Err}
	}
	if r.Job.GetParent() != "" && !r.Existing {
		// A stream changed: its multi-stream job follows in this entry.
		f.st.syncParent(index, cmd, r.Job)
	}
	return f.st.copyOut(r)
}

// syncParents brings the multi-stream jobs of a batch's streams up to date,
// as a single op's stream does below in Apply (a batched placement of a
// stream is the parent's event as much as a single one).
func (f *FSM) syncParents(index uint64, cmd *ferryv1.Command, batch []Result) {
	for _, b := range batch {
		if b.Err == nil && !b.Existing && b.Job.GetParent() != "" {
			f.st.syncParent(index, cmd, f.st.jobs[b.Job.GetId()])
		}
	}
}

func noBody(op string) error {
	return fmt.Errorf("%w: %s without a body", ErrUnknownCommand, op)
}

// copyOut detaches the result from the state. A library is returned with
// its full inventory, as Library would report it.
func (s *state) copyOut(r Result) Result {
	out := Result{Existing: r.Existing, Effect: r.Effect, Index: r.Index}
	switch {
	case r.Job != nil:
		out.Job = cloneJob(r.Job)
	case r.Disk != nil:
		out.Disk = cloneDisk(r.Disk)
	case r.Library != nil:
		out.Library = s.libraryWithInventory(r.Library.GetName())
	case r.Cartridge != nil:
		out.Cartridge = s.cartridgeCopy(r.Cartridge)
	case r.Pool != nil:
		out.Pool = s.poolCopy(r.Pool)
	case r.Token != nil:
		out.Token = publicToken(r.Token)
	case r.Secret != nil:
		out.Secret = r.Secret
	}
	return out
}

// AppliedIndex returns the highest index passed to Apply, AddNode or
// RemoveNode, or the index given to the last Restore.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.applied
}

func (s *state) advance(index uint64) {
	if index > s.applied {
		s.applied = index
	}
}

func cloneJob(j *ferryv1.Job) *ferryv1.Job {
	return proto.Clone(j).(*ferryv1.Job)
}

func cloneNode(n *ferryv1.NodeInfo) *ferryv1.NodeInfo {
	return proto.Clone(n).(*ferryv1.NodeInfo)
}

func cloneDisk(d *ferryv1.Disk) *ferryv1.Disk {
	return proto.Clone(d).(*ferryv1.Disk)
}

func cloneCartridge(c *ferryv1.Cartridge) *ferryv1.Cartridge {
	return proto.Clone(c).(*ferryv1.Cartridge)
}
