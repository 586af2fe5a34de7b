package fsm

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Limits of a cartridge catalog. A tape image copy carries every file of
// its source; anything beyond these is not a tape a job wrote.
const (
	maxTapeWrites = 64
	// MaxTapeFiles is the highest file number a catalog lists; the
	// executor reports no file beyond it, so a finishing job is never
	// refused for its catalog. It keeps a FinishJobOp (about 130 bytes a
	// file) near 1 MiB, well inside what Raft and gRPC carry.
	MaxTapeFiles = 1 << 13
)

// recordTapeWrites applies what a finished job wrote to the catalogs of its
// cartridges: a write on tape discards everything after it, so each
// catalog is cut at the first file the job wrote and the job's files
// follow. Files before that the catalog never heard of (the partial file of
// a copy that ended without reporting, closed by this job's append) are
// filled in as incomplete, so a catalog always lists files 1, 2, 3 … in
// order. A cartridge no longer registered is skipped: its catalog went
// with it.
func (s *state) recordTapeWrites(cmd *ferryv1.Command, jobID string, writes []*ferryv1.TapeWrite) {
	for _, w := range writes {
		c, ok := s.cartridges[w.GetBarcode()]
		if !ok {
			continue
		}
		c.Files = catalogAfter(c.GetFiles(), w, jobID, cmd)
		c.UsedBytes = w.GetUsedBytes()
	}
}

// catalogAfter is the catalog old becomes after the write w by job jobID,
// committed at cmd's time.
func catalogAfter(old []*ferryv1.TapeFile, w *ferryv1.TapeWrite, jobID string, cmd *ferryv1.Command) []*ferryv1.TapeFile {
	from := int(w.GetFromFile())
	out := slices.Clone(old[:min(from-1, len(old))])
	for n := len(out) + 1; n < from; n++ {
		out = append(out, &ferryv1.TapeFile{Number: uint32(n), Incomplete: true})
	}
	for _, f := range w.GetFiles() {
		f = proto.Clone(f).(*ferryv1.TapeFile)
		switch {
		case f.GetJobId() == "" && int(f.GetNumber()) <= len(old):
			// A file the job changed but did not write (it closed it,
			// or wrote inside it): whoever wrote it still did.
			f.JobId, f.WrittenAt = old[f.GetNumber()-1].GetJobId(), old[f.GetNumber()-1].GetWrittenAt()
		case f.GetJobId() == "":
		default:
			f.JobId = jobID
			f.WrittenAt = cmd.GetTime()
		}
		out = append(out, f)
	}
	return out
}

// tapeWrites checks the tape writes a finishing job reports: each names a
// cartridge once, starts at a data file, and lists its files in order.
func (v *violations) tapeWrites(field, jobID string, writes []*ferryv1.TapeWrite) {
	if len(writes) > maxTapeWrites {
		v.add(field, fmt.Sprintf("more than %d cartridges", maxTapeWrites))
		return
	}
	seen := map[string]bool{}
	for i, w := range writes {
		at := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case w.GetBarcode() == "":
			v.add(at+".barcode", "required")
		case seen[w.GetBarcode()]:
			v.add(at+".barcode", fmt.Sprintf("cartridge %s appears twice", w.GetBarcode()))
		}
		seen[w.GetBarcode()] = true
		if w.GetFromFile() == 0 {
			v.add(at+".from_file", "must be at least 1: file 0 is the label")
		}
		if len(w.GetFiles()) > MaxTapeFiles || uint64(w.GetFromFile())+uint64(len(w.GetFiles())) > MaxTapeFiles+1 {
			v.add(at+".files", fmt.Sprintf("a catalog holds at most %d files", MaxTapeFiles))
			continue
		}
		for k, f := range w.GetFiles() {
			fat := fmt.Sprintf("%s.files[%d]", at, k)
			if f.GetNumber() != w.GetFromFile()+uint32(k) {
				v.add(fat+".number", fmt.Sprintf("must be %d: files are numbered from from_file on", w.GetFromFile()+uint32(k)))
			}
			if f.GetSha256() != "" && !isSHA256Hex(f.GetSha256()) {
				v.add(fat+".sha256", "must be empty or 64 lower-case hexadecimal digits")
			}
			if id := f.GetJobId(); id != "" && id != jobID {
				v.add(fat+".job_id", fmt.Sprintf("must be empty or the finishing job %s", jobID))
			}
			if f.WrittenAt != nil {
				v.add(fat+".written_at", "set by the state machine, from the entry's time")
			}
		}
	}
}
