package sbc

import (
	"sync"

	"github.com/ferry-san/ferry/scsi/sense"
)

// Bounds on the unit attentions kept, so that attentions for initiator
// ports that never come back cannot grow the server without end. Past
// them an attention is dropped: SPC-4 5.14 lets a device server that
// cannot queue more report the most recent ones only.
const (
	maxAttentionsPerNexus = 8
	maxAttentionNexuses   = 4096
)

// attentionKey is one I_T nexus's view of one LUN: the LUN by its
// identity (its number may differ between nodes) and the initiator port
// (this server is one target port).
type attentionKey struct {
	naa, initiator string
}

// attentions holds the unit attention conditions pending for each I_T
// nexus on each LUN (SAM-5 5.14): the next command of that nexus to that
// LUN, other than INQUIRY, REPORT LUNS and REQUEST SENSE, ends with CHECK
// CONDITION, UNIT ATTENTION and the oldest one, which it clears; REQUEST
// SENSE reports and clears it with GOOD status. It also knows which
// nexuses have addressed each LUN since their session began, for the
// attentions of a logical unit reset.
type attentions struct {
	mu      sync.Mutex
	pending map[attentionKey][]sense.Code
	// present holds, by LUN identity, the initiator ports that sent it a
	// command, until their nexus is lost.
	present map[string]map[string]struct{}
}

// add establishes code for initiator on the LUN of id, unless the same
// condition is pending already.
func (a *attentions) add(id Identity, initiator string, code sense.Code) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.addLocked(attentionKey{string(id.NAA), initiator}, code)
}

func (a *attentions) addLocked(k attentionKey, code sense.Code) {
	if a.pending == nil {
		a.pending = make(map[attentionKey][]sense.Code)
	}
	q, ok := a.pending[k]
	if !ok && len(a.pending) >= maxAttentionNexuses {
		return
	}
	for _, c := range q {
		if c == code {
			return
		}
	}
	if len(q) >= maxAttentionsPerNexus {
		q = q[1:]
	}
	a.pending[k] = append(q, code)
}

// addAll establishes code for every initiator port that has addressed the
// LUN of id since its session began.
func (a *attentions) addAll(id Identity, code sense.Code) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for initiator := range a.present[string(id.NAA)] {
		a.addLocked(attentionKey{string(id.NAA), initiator}, code)
	}
}

// arrive records that initiator addresses the LUN of id and, if take is
// set, clears and returns the oldest condition pending for it there.
func (a *attentions) arrive(id Identity, initiator string, take bool) (sense.Code, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.present[string(id.NAA)][initiator]; !ok {
		if a.present == nil {
			a.present = make(map[string]map[string]struct{})
		}
		set := a.present[string(id.NAA)]
		if set == nil {
			set = make(map[string]struct{})
			a.present[string(id.NAA)] = set
		}
		set[initiator] = struct{}{}
	}
	if !take || len(a.pending) == 0 {
		return 0, false // the common case, checked before every command
	}
	k := attentionKey{string(id.NAA), initiator}
	q := a.pending[k]
	if len(q) == 0 {
		return 0, false
	}
	if len(q) == 1 {
		delete(a.pending, k)
	} else {
		a.pending[k] = q[1:]
	}
	return q[0], true
}

// lost forgets initiator, whose I_T nexus is gone, and the conditions
// pending for it: an initiator port logging in again clears unit
// attentions with its first commands anyway.
func (a *attentions) lost(initiator string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for naa, set := range a.present {
		delete(set, initiator)
		if len(set) == 0 {
			delete(a.present, naa)
		}
	}
	for k := range a.pending {
		if k.initiator == initiator {
			delete(a.pending, k)
		}
	}
}

// reportsAttention reports whether a command ends with a pending unit
// attention instead of running (SPC-4 5.14: INQUIRY, REPORT LUNS and
// REQUEST SENSE do not).
func reportsAttention(op byte) bool {
	return op != opInquiry && op != opReportLUNs && op != opRequestSense
}
