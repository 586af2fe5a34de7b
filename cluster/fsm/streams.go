package fsm

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// A multi-stream job (JobSpec.streams > 1) is a parent job and one
// ordinary copy job per stream, all created by the one SubmitJobOp that
// submits it. The streams are placed, checkpointed, fenced and taken over
// like any job; the parent is never placed: its state follows theirs
// (syncParent), and cancelling it cancels them.

// MaxStreams is the most streams one job may be split into.
const MaxStreams = 64

// streamIDSuffix joins a parent's id and a stream's number into the
// stream's job id: "ID-s1" is stream 1.
const streamIDSuffix = "-s"

// StreamJobID is the id of stream i (from 1) of the multi-stream job id.
func StreamJobID(parent string, i int) string {
	return fmt.Sprintf("%s%s%d", parent, streamIDSuffix, i)
}

// IsStreamParent reports whether j is a multi-stream job, which runs only
// as its streams and is never placed itself.
func IsStreamParent(j *ferryv1.Job) bool { return len(j.GetStreams()) > 0 }

// streamSpecs completes the stream specs of a multi-stream submit and
// checks them: the spec's source split into block-aligned parts for the
// streams given without a source (all of them when none is given), the
// destination split the same way when it is a disk range, and options
// taken from the spec where a stream sets none. The violations name
// streams[i] fields. It reads the registry and nothing else.
func (s *state) streamSpecs(spec *ferryv1.JobSpec, given []*ferryv1.JobSpec) ([]*ferryv1.JobSpec, violations) {
	var v violations
	n := int(spec.GetStreams())
	switch {
	case n > MaxStreams:
		v.add("spec.streams", fmt.Sprintf("%d streams: more than the limit of %d", n, MaxStreams))
		return nil, v
	case len(given) > 0 && len(given) != n:
		v.add("streams", fmt.Sprintf("%d stream specs for %d streams: give one per stream, or none", len(given), n))
		return nil, v
	case len(spec.GetXcopyParameterList()) > 0:
		v.add("spec.streams", "an EXTENDED COPY parameter list runs as one stream")
		return nil, v
	case len(spec.GetSegments()) > 0:
		v.add("spec.streams", "a copy with explicit segments runs as one stream")
		return nil, v
	}
	out := make([]*ferryv1.JobSpec, n)
	var parts []*ferryv1.JobSpec
	for i := range out {
		var g *ferryv1.JobSpec
		if len(given) > 0 {
			g = given[i]
		}
		if g.GetSource() != nil {
			// Taken as it is: a restore names each stream's tape file.
			out[i] = proto.Clone(g).(*ferryv1.JobSpec)
		} else {
			if parts == nil {
				var pv violations
				if parts, pv = s.splitSpec(spec); len(pv) > 0 {
					return nil, pv
				}
			}
			out[i] = proto.Clone(parts[i]).(*ferryv1.JobSpec)
			if g.GetDestination() != nil {
				out[i].Destination = proto.Clone(g.GetDestination()).(*ferryv1.Endpoint)
			}
		}
		c := out[i]
		c.Streams = 0
		if c.Options == nil {
			c.Options = proto.Clone(spec.GetOptions()).(*ferryv1.JobOptions)
		}
		if c.GetName() == "" {
			c.Name = fmt.Sprintf("%s (stream %d of %d)", spec.GetName(), i+1, n)
		}
		for _, fv := range ValidateSpec(c) {
			v.add(fmt.Sprintf("streams[%d]%s", i, strings.TrimPrefix(fv.Field, "spec")), fv.Description)
		}
		if c.GetStreams() != 0 || len(c.GetSegments()) > 0 || len(c.GetXcopyParameterList()) > 0 {
			v.add(fmt.Sprintf("streams[%d]", i), "a stream is a plain source → destination copy")
		}
	}
	return out, v
}

// SharesDisks reports whether jobs a and b may use one disk at once,
// whatever each does to it: they are two streams of one multi-stream job,
// whose ranges checkStreams kept apart when it accepted them (no range one
// writes is read or written by another). This is the one exception to
// "one writer per disk" that the scheduler's busy rule and the executor's
// device locks make; each such writer claims a fence of its own range
// (DiskFenceRange), never of the whole disk. A job never shares with
// itself: two runs of one stream (an old owner not yet stopped, and its
// successor) are kept apart like any two jobs.
func SharesDisks(a, b *ferryv1.Job) bool {
	return a.GetParent() != "" && a.GetParent() == b.GetParent() && a.GetId() != b.GetId()
}

// DiskFenceRange is the range of the disk d that job j's writes are
// fenced by: for a stream of a multi-stream job, the one range it writes
// (its siblings write the disk beside it, each under its own epoch); ok is
// false for any other job, which fences the whole disk.
func DiskFenceRange(j *ferryv1.Job, d DeviceAccess) (r ByteRange, ok bool) {
	if j.GetParent() == "" || d.Device.Disk == nil || !d.Write || len(d.Writes) != 1 || d.Writes[0].Length == 0 {
		return ByteRange{}, false
	}
	return d.Writes[0], true
}

// splitSpec splits a disk source range into spec.streams parts of whole
// blocks (the first ones a block longer when the count does not divide),
// and a disk destination range at the same byte offsets. A tape
// destination is every stream's: only a pool can take them all, which the
// check of the streams together (checkStreams) decides.
func (s *state) splitSpec(spec *ferryv1.JobSpec) ([]*ferryv1.JobSpec, violations) {
	var v violations
	n := uint64(spec.GetStreams())
	src, dst := spec.GetSource(), spec.GetDestination()
	sd, err := s.resolveDevice(src.GetDevice())
	if err != nil || sd.Disk == nil || src.GetKind() != ferryv1.DeviceKind_DEVICE_KIND_DISK {
		v.add("spec.source", "a multi-stream copy splits a registered disk's range; give each stream's source otherwise")
		return nil, v
	}
	if dst.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_TAPE && dst.TapeFile != nil {
		v.add("spec.destination.tape_file", "each stream writes a new file: a multi-stream copy names no tape file")
		return nil, v
	}
	total := diskBlocks(sd.Disk)
	lba, blocks := src.GetLba(), src.GetBlocks()
	if lba >= total {
		v.add("spec.source.lba", fmt.Sprintf("LBA %d is past the end of disk %s (%d blocks)", lba, sd.Disk.GetName(), total))
		return nil, v
	}
	if blocks == 0 {
		blocks = total - lba
	}
	if blocks < n {
		v.add("spec.streams", fmt.Sprintf("%d streams for %d blocks: a stream copies at least one block", n, blocks))
		return nil, v
	}
	var dd Device
	if dst.GetKind() == ferryv1.DeviceKind_DEVICE_KIND_DISK {
		dd, err = s.resolveDevice(dst.GetDevice())
		if err == nil && dd.Disk != nil && dd.Disk.GetBlockSize() != sd.Disk.GetBlockSize() {
			v.add("spec.destination", fmt.Sprintf("disk %s has %d-byte blocks and disk %s %d-byte ones: a multi-stream disk copy needs one block size",
				sd.Disk.GetName(), sd.Disk.GetBlockSize(), dd.Disk.GetName(), dd.Disk.GetBlockSize()))
			return nil, v
		}
	}
	out := make([]*ferryv1.JobSpec, n)
	off := uint64(0)
	for i := range n {
		part := blocks / n
		if i < blocks%n {
			part++
		}
		c := &ferryv1.JobSpec{Name: spec.GetName(), Options: spec.GetOptions()}
		c.Source = proto.Clone(src).(*ferryv1.Endpoint)
		c.Source.Lba, c.Source.Blocks = lba+off, part
		c.Destination = proto.Clone(dst).(*ferryv1.Endpoint)
		if dd.Disk != nil {
			c.Destination.Lba, c.Destination.Blocks = dst.GetLba()+off, part
		}
		out[i] = c
		off += part
	}
	return out, v
}

// checkStreams refuses streams that would harm each other when they run
// at once: two writing one cartridge, or one reading or writing a
// cartridge another writes; on a disk, a range one writes that another
// reads or writes. accs are the streams' accesses, in order.
func checkStreams(accs []JobAccess) violations {
	var v violations
	for i := range accs {
		for j := i + 1; j < len(accs); j++ {
			for _, a := range accs[i].Devices {
				for _, b := range accs[j].Devices {
					if a.Key() != b.Key() || (!a.Write && !b.Write) {
						continue
					}
					if a.Device.Cartridge != nil {
						v.add(fmt.Sprintf("streams[%d].destination", j), fmt.Sprintf("streams %d and %d both use cartridge %s, and one writes it: give each stream its own cartridge, or a pool",
							i+1, j+1, a.Device.Cartridge.GetBarcode()))
						continue
					}
					if r, w, ok := overlap(a, b); ok {
						v.add(fmt.Sprintf("streams[%d]", j), fmt.Sprintf("streams %d and %d overlap on disk %s (%s and %s), and one writes it",
							i+1, j+1, a.Device.Disk.GetName(), r, w))
					}
				}
			}
		}
	}
	return v
}

// overlap finds a range one access writes that the other reads or writes.
func overlap(a, b DeviceAccess) (ByteRange, ByteRange, bool) {
	for _, pair := range [][2][]ByteRange{{a.Writes, b.Writes}, {a.Writes, b.Reads}, {a.Reads, b.Writes}} {
		for _, x := range pair[0] {
			for _, y := range pair[1] {
				if x.Overlaps(y) {
					return x, y, true
				}
			}
		}
	}
	return ByteRange{}, ByteRange{}, false
}

// submitStreams creates a multi-stream job and its streams' jobs, or
// refuses them all: each stream must pass every rule a job of its own
// would (resolveAccess), and the streams together checkStreams.
func (s *state) submitStreams(index uint64, cmd *ferryv1.Command, op *ferryv1.SubmitJobOp) (*ferryv1.Job, error) {
	specs, v := s.streamSpecs(op.GetSpec(), op.GetStreams())
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	if len(StreamJobID(op.GetJobId(), len(specs))) > maxJobIDLen {
		v.add("job_id", fmt.Sprintf("too long to name its streams' jobs (%s…)", StreamJobID("", len(specs))))
	}
	accs := make([]JobAccess, len(specs))
	notes := make([]string, len(specs))
	for i, c := range specs {
		if _, dup := s.jobs[StreamJobID(op.GetJobId(), i+1)]; dup {
			v.add("job_id", fmt.Sprintf("stream job %s already exists", StreamJobID(op.GetJobId(), i+1)))
		}
		acc, verr := s.resolveAccess(c)
		accs[i], notes[i] = acc, acc.notes()
		// Unlike a job of its own, no server checked the streams'
		// devices before this entry.
		for _, m := range acc.Missing {
			v.add(fmt.Sprintf("streams[%d]%s", i, strings.TrimPrefix(m.Field, "spec")), m.Description)
		}
		if verr != nil {
			for _, fv := range verr.Violations {
				v.add(fmt.Sprintf("streams[%d]%s", i, strings.TrimPrefix(fv.Field, "spec")), fv.Description)
			}
		}
	}
	v = append(v, checkStreams(accs)...)
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}

	p := newJob(index, cmd, op.GetJobId(), op.GetIdempotencyKey(), op.GetSpec())
	p.StateReason = fmt.Sprintf("waiting for the scheduler to place its %d streams", len(specs))
	p.History = append(p.History, event(index, cmd, ferryv1.JobState_JOB_STATE_QUEUED, fmt.Sprintf("submitted as %d streams", len(specs))))
	for i, c := range specs {
		id := StreamJobID(p.GetId(), i+1)
		child := newJob(index, cmd, id, "", c)
		child.Parent = p.GetId()
		msg := fmt.Sprintf("submitted as stream %d of %d of job %s", i+1, len(specs), p.GetId())
		if notes[i] != "" {
			msg += "; it " + notes[i]
		}
		child.History = append(child.History, event(index, cmd, ferryv1.JobState_JOB_STATE_QUEUED, msg))
		p.Streams = append(p.Streams, id)
		s.insertJob(child)
	}
	s.insertJob(p)
	return p, nil
}

// streamIndex is the number (from 1) of the stream job id in its parent.
func streamIndex(p *ferryv1.Job, id string) int {
	for i, c := range p.GetStreams() {
		if c == id {
			return i + 1
		}
	}
	return 0
}

// syncParent brings a multi-stream job up to date after one of its
// streams changed at this entry: its progress is the streams' sum; it
// runs once a stream is placed; it succeeds, with the manifest, when every
// stream has; the first stream that fails or is cancelled ends it so and
// cancels the streams still going. A job whose parent has ended changes
// nothing more.
func (s *state) syncParent(index uint64, cmd *ferryv1.Command, child *ferryv1.Job) {
	p, ok := s.jobs[child.GetParent()]
	if !ok || jobEnded(p) {
		return
	}
	i := streamIndex(p, child.GetId())
	prog := &ferryv1.JobProgress{}
	running, succeeded := 0, 0
	for _, id := range p.GetStreams() {
		c := s.jobs[id]
		prog.BytesTotal += c.GetProgress().GetBytesTotal()
		prog.BytesDone += c.GetProgress().GetBytesDone()
		prog.CheckpointOffset += c.GetProgress().GetCheckpointOffset()
		prog.SegmentsTotal += c.GetProgress().GetSegmentsTotal()
		prog.SegmentsDone += c.GetProgress().GetSegmentsDone()
		switch c.GetState() {
		case ferryv1.JobState_JOB_STATE_RUNNING:
			running++
		case ferryv1.JobState_JOB_STATE_SUCCEEDED:
			succeeded++
		}
	}
	p.Progress = prog
	p.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	// The stream's own event, told on the parent: placements and
	// takeovers, starts, ends. Checkpoints stay on the stream.
	if h := child.GetHistory(); len(h) > 0 {
		if e := h[len(h)-1]; e.GetRaftIndex() == index && !isCheckpointEvent(e) {
			pe := proto.Clone(e).(*ferryv1.JobEvent)
			pe.State = child.GetState()
			pe.Message = fmt.Sprintf("stream %d: %s", i, e.GetMessage())
			p.History = append(p.History, pe)
		}
	}
	n := len(p.GetStreams())
	switch child.GetState() {
	case ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
		st, verb := ferryv1.JobState_JOB_STATE_FAILED, "failed"
		if child.GetState() == ferryv1.JobState_JOB_STATE_CANCELLED {
			st, verb = ferryv1.JobState_JOB_STATE_CANCELLED, "was cancelled"
		}
		reason := fmt.Sprintf("stream %d (job %s) %s: %s", i, child.GetId(), verb, child.GetStateReason())
		s.endParent(index, cmd, p, st, reason)
		if st == ferryv1.JobState_JOB_STATE_FAILED {
			p.Error = &ferryv1.JobError{Message: reason, Sense: child.GetError().GetSense()}
		}
	case ferryv1.JobState_JOB_STATE_SUCCEEDED:
		if succeeded < n {
			p.StateReason = fmt.Sprintf("%d of %d streams succeeded, %d running", succeeded, n, running)
			return
		}
		p.Result = s.manifest(p)
		p.State = ferryv1.JobState_JOB_STATE_SUCCEEDED
		p.StateReason = fmt.Sprintf("all %d streams succeeded", n)
		p.History = append(p.History, event(index, cmd, p.State, fmt.Sprintf("succeeded: %d streams, %d bytes", n, p.Result.GetBytes())))
	default:
		if running > 0 {
			if p.State != ferryv1.JobState_JOB_STATE_RUNNING {
				p.State = ferryv1.JobState_JOB_STATE_RUNNING
			}
			p.StateReason = fmt.Sprintf("%d of %d streams running, %d succeeded", running, n, succeeded)
		}
	}
}

// endParent ends a multi-stream job and cancels its streams that have not
// ended, sending their cartridges home.
func (s *state) endParent(index uint64, cmd *ferryv1.Command, p *ferryv1.Job, st ferryv1.JobState, reason string) {
	p.State = st
	p.StateReason = reason
	p.UpdatedAt = proto.Clone(cmd.GetTime()).(*timestamppb.Timestamp)
	p.History = append(p.History, event(index, cmd, st, reason))
	for _, id := range p.GetStreams() {
		c := s.jobs[id]
		if jobEnded(c) {
			continue
		}
		// A stream's cartridges are its own and in the registry: their
		// way home cannot be blocked.
		_ = s.cancel(index, cmd, c, fmt.Sprintf("its job %s ended: %s", p.GetId(), reason))
	}
}

// manifest is a multi-stream job's result: each stream's ranges, bytes,
// SHA-256 and tape files, and the bytes of them all.
func (s *state) manifest(p *ferryv1.Job) *ferryv1.JobResult {
	res := &ferryv1.JobResult{}
	for i, id := range p.GetStreams() {
		c := s.jobs[id]
		r := c.GetResult()
		res.Bytes += r.GetBytes()
		res.TapeWrites = append(res.TapeWrites, cloneTapeWrites(r.GetTapeWrites())...)
		res.Streams = append(res.Streams, &ferryv1.StreamResult{
			Index:       uint32(i + 1),
			JobId:       id,
			Source:      proto.Clone(c.GetSpec().GetSource()).(*ferryv1.Endpoint),
			Destination: proto.Clone(c.GetSpec().GetDestination()).(*ferryv1.Endpoint),
			Bytes:       r.GetBytes(),
			Sha256:      r.GetSha256(),
			TapeWrites:  cloneTapeWrites(r.GetTapeWrites()),
			Volumes:     cloneVolumes(r.GetVolumes()),
		})
	}
	return res
}

func cloneTapeWrites(tws []*ferryv1.TapeWrite) []*ferryv1.TapeWrite {
	out := make([]*ferryv1.TapeWrite, 0, len(tws))
	for _, tw := range tws {
		out = append(out, proto.Clone(tw).(*ferryv1.TapeWrite))
	}
	return out
}

func cloneVolumes(vs []*ferryv1.TapeVolume) []*ferryv1.TapeVolume {
	out := make([]*ferryv1.TapeVolume, 0, len(vs))
	for _, v := range vs {
		out = append(out, proto.Clone(v).(*ferryv1.TapeVolume))
	}
	return out
}

func jobEnded(j *ferryv1.Job) bool {
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED, ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
		return true
	}
	return false
}
