package sbc

import (
	"sync"

	"github.com/ferry-san/ferry/scsi/sense"
)

// Bounds on the unit attentions kept, so that initiators that register
// and never come back cannot grow the server without end. Past them an
// attention is dropped: SPC-4 5.14 lets a device server that cannot queue
// more report the most recent ones only.
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
// SENSE reports and clears it with GOOD status.
type attentions struct {
	mu      sync.Mutex
	pending map[attentionKey][]sense.Code
}

// add establishes code for initiator on the LUN of id, unless the same
// condition is pending already.
func (a *attentions) add(id Identity, initiator string, code sense.Code) {
	k := attentionKey{string(id.NAA), initiator}
	a.mu.Lock()
	defer a.mu.Unlock()
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

// take clears and returns the oldest condition pending for initiator on
// the LUN of id.
func (a *attentions) take(id Identity, initiator string) (sense.Code, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) == 0 {
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

// reportsAttention reports whether a command ends with a pending unit
// attention instead of running (SPC-4 5.14: INQUIRY, REPORT LUNS and
// REQUEST SENSE do not).
func reportsAttention(op byte) bool {
	return op != opInquiry && op != opReportLUNs && op != opRequestSense
}
