package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/proto/ferryv1"
)

// streamsDetails explains multi-stream copies in ferry copy's help.
const streamsDetails = "With -streams N (or a destination of several cartridges, tape:A,B,C) the copy runs as N\n" +
	"streams at once, each an ordinary job of its own on its own node and drive (own checkpoints,\n" +
	"lease and takeover): the source disk range is split into N block-aligned parts, a disk\n" +
	"destination the same way, a tape destination gets one file per stream (one cartridge per\n" +
	"stream: name them, or a pool). The job succeeds when every stream has, with one SHA-256 per\n" +
	"stream; one failing or cancelled ends it and cancels the others. SRC job:ID restores such a\n" +
	"job: each stream's tape file is read back into its place in DST, the streams at once (each\n" +
	"writes its own range of DST, fenced by its own epoch; no other job uses DST meanwhile). A\n" +
	"copy to a pool that spanned cartridges restores the same way, one stream per volume.\n" +
	"  ferry copy disk:db01 tape:A00001L9,A00002L9,A00003L9,A00004L9\n" +
	"  ferry copy disk:db01 disk:db02 -streams 4\n" +
	"  ferry copy job:7b0c… disk:db03\n"

// jobSourcePrefix names a multi-stream job as the source of a restore.
const jobSourcePrefix = "job:"

// splitDestinations reads a tape destination of several cartridges,
// "tape:A,B,C": one stream spec per cartridge, or nil for any other
// destination.
func splitDestinations(arg string) ([]*ferryv1.JobSpec, error) {
	rest, ok := strings.CutPrefix(arg, "tape:")
	if !ok || !strings.Contains(rest, ",") {
		return nil, nil
	}
	var out []*ferryv1.JobSpec
	for _, b := range strings.Split(rest, ",") {
		if strings.ContainsAny(b, "#@+") {
			return nil, endpointError(arg, "a multi-stream copy writes a new file to each cartridge: name no #FILE")
		}
		e, err := parseEndpoint("tape:" + b)
		if err != nil {
			return nil, err
		}
		out = append(out, &ferryv1.JobSpec{Destination: e})
	}
	return out, nil
}

// streamsSpec builds the submission of ferry copy SRC DST with -streams:
// the spec and the stream specs, if any. streams is 0 when not given.
func streamsSpec(src *ferryv1.Endpoint, dstArg string, streams int) (*ferryv1.Endpoint, []*ferryv1.JobSpec, uint32, error) {
	given, err := splitDestinations(dstArg)
	if err != nil {
		return nil, nil, 0, err
	}
	switch {
	case streams < 0 || streams > 64:
		return nil, nil, 0, usageError{fmt.Sprintf("-streams %d: want 1 to 64", streams)}
	case given != nil && streams != 0 && streams != len(given):
		return nil, nil, 0, usageError{fmt.Sprintf("-streams %d with %d cartridges: give one cartridge per stream", streams, len(given))}
	case given != nil:
		return given[0].GetDestination(), given, uint32(len(given)), nil
	}
	dst, err := parseEndpoint(dstArg)
	if err != nil {
		return nil, nil, 0, err
	}
	return dst, nil, uint32(max(streams, 0)), nil
}

// restoreStreams builds the restore of multi-stream job id into dst: one
// stream per stream of the job, reading its tape file back into its part
// of dst, at the same offset from dst's start as it had from the source's.
// A copy that spanned cartridges restores the same way, one stream per
// volume (restoreVolumes).
func restoreStreams(ctx context.Context, c *client, id string, dst *ferryv1.Endpoint) (*ferryv1.JobSpec, []*ferryv1.JobSpec, error) {
	rctx, cancel := c.rpcContext(ctx)
	defer cancel()
	j, err := c.jobs.Get(rctx, &ferryv1.GetJobRequest{Id: id})
	if err != nil {
		return nil, nil, err
	}
	if len(j.GetResult().GetVolumes()) > 0 && len(j.GetResult().GetStreams()) == 0 {
		bs, err := diskBlockSize(rctx, c, dst)
		if err != nil {
			return nil, nil, err
		}
		return restoreVolumes(j, dst, bs)
	}
	return restoreSpecs(j, dst)
}

// diskBlockSize is the block size of the disk an endpoint names.
func diskBlockSize(ctx context.Context, c *client, ep *ferryv1.Endpoint) (uint32, error) {
	if ep.GetKind() != ferryv1.DeviceKind_DEVICE_KIND_DISK {
		return 0, usageError{"a copy restored from job:ID goes to a disk: DST is disk:NAME[@LBA]"}
	}
	resp, err := ferryv1.NewDeviceServiceClient(c.conn).ListDisks(ctx, &ferryv1.ListDisksRequest{})
	if err != nil {
		return 0, err
	}
	for _, d := range resp.GetDisks() {
		if d.GetName() == ep.GetDevice().GetName() || ep.GetDevice().GetNaa() != "" && strings.EqualFold(d.GetNaa(), ep.GetDevice().GetNaa()) {
			return d.GetBlockSize(), nil
		}
	}
	return 0, fmt.Errorf("no disk %s", endpointArg(ep))
}

// restoreVolumes builds the restore of a copy to a pool into dst: its
// volumes read back in order, each part into dst at its offset in the copy
// (one stream per volume; a copy that did not span is one ordinary copy of
// its tape file). bs is dst's block size: parts begin on record
// boundaries, which are whole blocks of the disk the copy read.
func restoreVolumes(j *ferryv1.Job, dst *ferryv1.Endpoint, bs uint32) (*ferryv1.JobSpec, []*ferryv1.JobSpec, error) {
	vols := j.GetResult().GetVolumes()
	switch {
	case j.GetState() != ferryv1.JobState_JOB_STATE_SUCCEEDED:
		return nil, nil, fmt.Errorf("job %s is %s: only a job that succeeded can be restored", j.GetId(), jobStateText(j.GetState()))
	case dst.GetKind() != ferryv1.DeviceKind_DEVICE_KIND_DISK:
		return nil, nil, usageError{"a copy restored from job:ID goes to a disk: DST is disk:NAME[@LBA]"}
	case dst.GetBlocks() != 0:
		return nil, nil, usageError{"a restore from job:ID writes the whole copy: DST is disk:NAME[@LBA], without +BLOCKS"}
	}
	name := fmt.Sprintf("restore of job %s", j.GetId())
	given, err := volumeSpecs(vols, dst, bs)
	if err != nil {
		return nil, nil, fmt.Errorf("job %s: %w", j.GetId(), err)
	}
	switch len(given) {
	case 0:
		return nil, nil, fmt.Errorf("job %s lists no volumes", j.GetId())
	case 1:
		return &ferryv1.JobSpec{Name: name, Source: given[0].GetSource(), Destination: given[0].GetDestination()}, nil, nil
	}
	return &ferryv1.JobSpec{Name: name, Source: given[0].GetSource(), Destination: dst, Streams: uint32(len(given))}, given, nil
}

// volumeSpecs reads volumes back into dst (a disk range from dst's LBA),
// each part at its offset: one copy per volume. bs is dst's block size.
func volumeSpecs(vols []*ferryv1.TapeVolume, dst *ferryv1.Endpoint, bs uint32) ([]*ferryv1.JobSpec, error) {
	if bs == 0 {
		return nil, fmt.Errorf("disk %s has no block size", endpointArg(dst))
	}
	var out []*ferryv1.JobSpec
	for _, v := range vols {
		if v.GetOffset()%uint64(bs) != 0 {
			return nil, fmt.Errorf("volume %d begins at byte %d, inside a %d-byte block of %s", v.GetVolume(), v.GetOffset(), bs, endpointArg(dst))
		}
		d := &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: dst.GetDevice(),
			Lba: dst.GetLba() + v.GetOffset()/uint64(bs), Blocks: (v.GetBytes() + uint64(bs) - 1) / uint64(bs)}
		out = append(out, &ferryv1.JobSpec{Source: fsm.VolumeEndpoint(v), Destination: d})
	}
	return out, nil
}

// streamBlockSize is the block size of the disk a stream read: its bytes
// over its blocks (a stream restores into a disk of that block size).
func streamBlockSize(s *ferryv1.StreamResult) uint32 {
	if b := s.GetSource().GetBlocks(); b > 0 {
		return uint32(s.GetBytes() / b)
	}
	return 0
}

// restoreSpecs is restoreStreams' pure part.
func restoreSpecs(j *ferryv1.Job, dst *ferryv1.Endpoint) (*ferryv1.JobSpec, []*ferryv1.JobSpec, error) {
	m := j.GetResult().GetStreams()
	switch {
	case j.GetState() != ferryv1.JobState_JOB_STATE_SUCCEEDED:
		return nil, nil, fmt.Errorf("job %s is %s: only a job that succeeded can be restored", j.GetId(), jobStateText(j.GetState()))
	case len(m) == 0:
		return nil, nil, fmt.Errorf("job %s is neither a multi-stream copy nor a copy to a pool: restore it from its tape file (ferry job get %s says where it went)", j.GetId(), j.GetId())
	case dst.GetKind() != ferryv1.DeviceKind_DEVICE_KIND_DISK:
		return nil, nil, usageError{"a multi-stream job restores to a disk: DST is disk:NAME[@LBA]"}
	case dst.GetBlocks() != 0:
		return nil, nil, usageError{"a multi-stream restore writes each stream where it was: DST is disk:NAME[@LBA], without +BLOCKS"}
	}
	first := m[0].GetSource().GetLba()
	var given []*ferryv1.JobSpec
	for _, s := range m {
		if s.GetSource().GetKind() != ferryv1.DeviceKind_DEVICE_KIND_DISK || s.GetSource().GetLba() < first {
			return nil, nil, fmt.Errorf("job %s: stream %d did not copy a disk range after stream 1's", j.GetId(), s.GetIndex())
		}
		d := &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: dst.GetDevice(),
			Lba: dst.GetLba() + s.GetSource().GetLba() - first, Blocks: s.GetSource().GetBlocks()}
		if len(s.GetVolumes()) > 1 {
			// The stream spanned cartridges: each volume is read back
			// into its part of the stream's range.
			parts, err := volumeSpecs(s.GetVolumes(), d, streamBlockSize(s))
			if err != nil {
				return nil, nil, fmt.Errorf("job %s: stream %d: %w", j.GetId(), s.GetIndex(), err)
			}
			given = append(given, parts...)
			continue
		}
		src, err := streamTapeFile(s)
		if err != nil {
			return nil, nil, fmt.Errorf("job %s: %w", j.GetId(), err)
		}
		given = append(given, &ferryv1.JobSpec{Source: src, Destination: d})
	}
	spec := &ferryv1.JobSpec{
		Name:        fmt.Sprintf("restore of job %s", j.GetId()),
		Source:      given[0].GetSource(),
		Destination: dst,
		Streams:     uint32(len(given)),
	}
	return spec, given, nil
}

// streamTapeFile is the tape file a stream wrote, as a source endpoint.
func streamTapeFile(s *ferryv1.StreamResult) (*ferryv1.Endpoint, error) {
	for _, tw := range s.GetTapeWrites() {
		for _, f := range tw.GetFiles() {
			if f.GetJobId() == s.GetJobId() && !f.GetIncomplete() {
				n := f.GetNumber()
				return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE,
					Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: tw.GetBarcode()}}, TapeFile: &n}, nil
			}
		}
	}
	return nil, fmt.Errorf("stream %d (job %s) wrote no complete tape file", s.GetIndex(), s.GetJobId())
}

// printStreams lists a multi-stream job's streams as they are now.
func printStreams(w io.Writer, streams []*ferryv1.Job) error {
	fmt.Fprintf(w, "streams (%d):\n", len(streams))
	tw := newTable(w)
	for i, s := range streams {
		owner := "-"
		if s.GetOwner() != "" {
			owner = fmt.Sprintf("%s (epoch %d)", s.GetOwner(), s.GetEpoch())
		}
		sum := "-"
		if h := s.GetResult().GetSha256(); h != "" {
			sum = "sha256 " + h
		}
		row(tw, "", fmt.Sprint(i+1), s.GetId(), jobStateText(s.GetState()), owner,
			endpointText(s.GetSpec().GetSource(), true)+" → "+destinationText(s), progressText(s.GetProgress()), sum)
	}
	return tw.Flush()
}

// fetchStreams gets each stream job of a multi-stream job.
func fetchStreams(ctx context.Context, c *client, j *ferryv1.Job, stale bool) ([]*ferryv1.Job, error) {
	var out []*ferryv1.Job
	for _, id := range j.GetStreams() {
		s, err := c.jobs.Get(ctx, &ferryv1.GetJobRequest{Id: id, Stale: stale})
		if err != nil {
			return nil, fmt.Errorf("stream job %s: %w", id, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// printManifest prints a multi-stream job's manifest, a line per stream:
// "stream 1: sha256 HEX  N bytes  disk:db01@0+512 → tape A00001L9 file 3".
func printManifest(w io.Writer, r *ferryv1.JobResult) error {
	for _, s := range r.GetStreams() {
		where := endpointArg(s.GetDestination())
		var parts []string
		for _, tw := range s.GetTapeWrites() {
			parts = append(parts, tapeWriteText(tw))
		}
		if len(parts) > 0 {
			where = strings.Join(parts, ", ")
		}
		if _, err := fmt.Fprintf(w, "stream %d: sha256 %s  %d bytes  %s → %s\n", s.GetIndex(), orDash(s.GetSha256()), s.GetBytes(), endpointArg(s.GetSource()), where); err != nil {
			return err
		}
	}
	return nil
}
