package fsm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// The audit trail (audit.go): AuditOp appends the records of mutating API
// calls that the nodes serving them proposed, each numbered (seq) as it is
// applied and kept once by its id, so that a batch proposed twice across a
// leader change is recorded once; PruneAuditOp deletes those older than a
// time the leader chose. The trail is part of the snapshot.

const (
	// MaxAuditRecords bounds the trail whatever the retention: past it,
	// the oldest tenth is dropped at once (and counted: AuditCapped), so
	// that a flood of calls costs one copy of the trail per tenth, not one
	// per record. At ~300 bytes a record, about 30 MB of state.
	MaxAuditRecords = 100_000
	// MaxAuditText bounds each text of a record; the proposer shortens
	// what is longer (a request's summary, an error's message).
	MaxAuditText = 512
	// MaxAuditBatch bounds the records of one AuditOp.
	MaxAuditBatch = 1024
	// auditIDLen is the length of a record's id.
	auditIDLen = 16
)

type auditID [auditIDLen]byte

// auditRecord validates a record as proposed or restored: its id, time,
// method and outcome are required, and no text is over MaxAuditText.
func (v *violations) auditRecord(field string, r *ferryv1.AuditRecord) {
	if r == nil {
		v.add(field, "required")
		return
	}
	if len(r.GetId()) != auditIDLen {
		v.add(field+".id", fmt.Sprintf("%d bytes, want %d", len(r.GetId()), auditIDLen))
	}
	if r.GetTime() == nil || r.GetTime().CheckValid() != nil {
		v.add(field+".time", "required, a valid time")
	}
	for _, t := range []struct{ name, text string }{
		{"who", r.GetWho()}, {"addr", r.GetAddr()}, {"node", r.GetNode()}, {"method", r.GetMethod()},
		{"request", r.GetRequest()}, {"code", r.GetCode()}, {"message", r.GetMessage()},
	} {
		if len(t.text) > MaxAuditText {
			v.add(field+"."+t.name, fmt.Sprintf("longer than %d bytes", MaxAuditText))
		}
	}
	if r.GetMethod() == "" {
		v.add(field+".method", "required")
	}
	if r.GetCode() == "" {
		v.add(field+".code", "required")
	}
}

// audit appends the op's records that are not kept yet, numbering them,
// and drops the oldest tenth if the trail outgrew MaxAuditRecords.
func (s *state) audit(op *ferryv1.AuditOp) error {
	var v violations
	recs := op.GetRecords()
	if len(recs) == 0 || len(recs) > MaxAuditBatch {
		v.add("records", fmt.Sprintf("%d records, want 1 to %d", len(recs), MaxAuditBatch))
	}
	for i, r := range recs {
		v.auditRecord(fmt.Sprintf("records[%d]", i), r)
	}
	if len(v) > 0 {
		return &ValidationError{Violations: v}
	}
	for _, r := range recs {
		id := auditID(r.GetId())
		if _, dup := s.auditIDs[id]; dup {
			continue
		}
		r = proto.Clone(r).(*ferryv1.AuditRecord)
		s.auditSeq++
		r.Seq = s.auditSeq
		s.auditRecords = append(s.auditRecords, r)
		s.auditIDs[id] = struct{}{}
	}
	if n := len(s.auditRecords); n > MaxAuditRecords {
		s.dropAudit(n - MaxAuditRecords + MaxAuditRecords/10)
	}
	return nil
}

// dropAudit drops the n oldest records, counting them as capped.
func (s *state) dropAudit(n int) {
	for _, r := range s.auditRecords[:n] {
		delete(s.auditIDs, auditID(r.GetId()))
	}
	// A copy, so that the dropped records' memory goes with them.
	s.auditRecords = slices.Clone(s.auditRecords[n:])
	s.auditCapped += uint64(n)
}

// pruneAudit deletes the records of calls that arrived before the op's
// time.
func (s *state) pruneAudit(op *ferryv1.PruneAuditOp) error {
	if op.GetBefore() == nil || op.GetBefore().CheckValid() != nil {
		return &ValidationError{Violations: []FieldViolation{{Field: "before", Description: "required, a valid time"}}}
	}
	before := op.GetBefore().AsTime()
	s.auditRecords = slices.DeleteFunc(s.auditRecords, func(r *ferryv1.AuditRecord) bool {
		if r.GetTime().AsTime().Before(before) {
			delete(s.auditIDs, auditID(r.GetId()))
			return true
		}
		return false
	})
	return nil
}

// AuditFilter selects records for AuditRecords.
type AuditFilter struct {
	// Since: calls that arrived at or after it (zero: all).
	Since time.Time
	// Who: the caller's full string (token:backup-app) or its name alone
	// (backup-app); "" for everyone.
	Who string
	// Limit: at most this many, the newest (0: no limit).
	Limit int
}

// matches reports whether r passes the filter.
func (f AuditFilter) matches(r *ferryv1.AuditRecord) bool {
	if !f.Since.IsZero() && r.GetTime().AsTime().Before(f.Since) {
		return false
	}
	if f.Who == "" || r.GetWho() == f.Who {
		return true
	}
	_, name, ok := strings.Cut(r.GetWho(), ":")
	return ok && name == f.Who
}

// AuditPage is what AuditRecords answers.
type AuditPage struct {
	// Records are copies of the newest matching records, in seq order.
	Records []*ferryv1.AuditRecord
	// Omitted counts the older matching records the limit left out.
	Omitted int
	// Capped counts the records MaxAuditRecords has ever dropped.
	Capped uint64
}

// AuditRecords returns the records that pass the filter.
func (f *FSM) AuditRecords(filter AuditFilter) AuditPage {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var match []*ferryv1.AuditRecord
	for _, r := range f.st.auditRecords {
		if filter.matches(r) {
			match = append(match, r)
		}
	}
	page := AuditPage{Capped: f.st.auditCapped}
	if filter.Limit > 0 && len(match) > filter.Limit {
		page.Omitted = len(match) - filter.Limit
		match = match[page.Omitted:]
	}
	page.Records = make([]*ferryv1.AuditRecord, len(match))
	for i, r := range match {
		page.Records[i] = proto.Clone(r).(*ferryv1.AuditRecord)
	}
	return page
}

// AuditOlderThan reports whether a record of a call that arrived before t
// is kept: whether a PruneAuditOp at t would delete anything.
func (f *FSM) AuditOlderThan(t time.Time) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return slices.ContainsFunc(f.st.auditRecords, func(r *ferryv1.AuditRecord) bool { return r.GetTime().AsTime().Before(t) })
}

// snapshotAudit adds the trail to a snapshot.
func (s *state) snapshotAudit(snap *ferryv1.StateSnapshot) {
	snap.AuditRecords = s.auditRecords
	snap.AuditSeq = s.auditSeq
	snap.AuditCapped = s.auditCapped
}

// restoreAudit rebuilds the trail, refusing records an AuditOp would have
// refused, records out of seq order or numbered past audit_seq, a
// duplicate id, and more records than the cap.
func (s *state) restoreAudit(snap *ferryv1.StateSnapshot) error {
	recs := snap.GetAuditRecords()
	if len(recs) > MaxAuditRecords {
		return fmt.Errorf("%w: %d audit records, more than %d", ErrBadSnapshot, len(recs), MaxAuditRecords)
	}
	var last uint64
	for i, r := range recs {
		var v violations
		v.auditRecord(fmt.Sprintf("audit_records[%d]", i), r)
		if len(v) > 0 {
			return fmt.Errorf("%w: %w", ErrBadSnapshot, &ValidationError{Violations: v})
		}
		if r.GetSeq() <= last || r.GetSeq() > snap.GetAuditSeq() {
			return fmt.Errorf("%w: audit record %d has seq %d after %d (audit_seq %d)", ErrBadSnapshot, i, r.GetSeq(), last, snap.GetAuditSeq())
		}
		last = r.GetSeq()
		id := auditID(r.GetId())
		if _, dup := s.auditIDs[id]; dup {
			return fmt.Errorf("%w: audit record %d repeats the id of another", ErrBadSnapshot, r.GetSeq())
		}
		s.auditIDs[id] = struct{}{}
	}
	s.auditRecords = recs
	s.auditSeq = snap.GetAuditSeq()
	s.auditCapped = snap.GetAuditCapped()
	return nil
}
