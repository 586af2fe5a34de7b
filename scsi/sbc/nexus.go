package sbc

import (
	"bytes"
	"context"
	"time"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/task"
)

// TaskAborter is the transport's side of PREEMPT AND ABORT: the iSCSI
// target aborts the tasks of an initiator port.
type TaskAborter interface {
	// AbortTasks aborts the tasks of initiator port initiator on LUN lun,
	// as a third party (they end with TASK ABORTED), and returns once
	// none of them can change the medium any more.
	AbortTasks(initiator string, lun uint64)
}

// resetTimeout bounds the release of RESERVE(6) reservations that a reset
// or the loss of an I_T nexus causes, which in a cluster goes through
// its log.
const resetTimeout = 30 * time.Second

// release6CDB is RELEASE(6): a reset or a nexus loss releases an SPC-2
// reservation as its holder would, so that a cluster's store of
// reservations needs no other operation.
func release6CDB() []byte { return []byte{opRelease6, 0, 0, 0, 0, 0} }

// SetTaskAborter tells the server how to abort the tasks of an initiator
// port; without one, PREEMPT AND ABORT preempts but aborts nothing.
func (s *Server) SetTaskAborter(a TaskAborter) {
	s.nexusMu.Lock()
	defer s.nexusMu.Unlock()
	s.aborter = a
}

// taskAborter returns the TaskAborter, or nil.
func (s *Server) taskAborter() TaskAborter {
	s.nexusMu.Lock()
	defer s.nexusMu.Unlock()
	return s.aborter
}

// nexus is the I_T nexus a task came through.
func (s *Server) nexus(t *task.Task) pr.Nexus {
	return pr.Nexus{Initiator: t.Initiator, TargetPort: s.cfg.RelativePortID}
}

// here reports whether an attention or abort addressed to n is for an
// I_T nexus through this server's target port.
func (s *Server) here(n pr.Nexus) bool {
	return n.Covers(pr.Nexus{Initiator: n.Initiator, TargetPort: s.cfg.RelativePortID})
}

// Deliver carries out on this node the effect of a reservation command
// that changed the reservations of the LUN of id: it establishes the unit
// attentions for the nexuses through this target port and aborts the
// tasks of the preempted ones. The server delivers the effects of the
// commands it runs itself; a cluster calls Deliver on the other nodes.
func (s *Server) Deliver(id Identity, e pr.Effect) {
	for _, a := range e.Attention {
		switch code := sense.MakeCode(a.ASC, a.ASCQ); {
		case a.Nexus == pr.EveryNexus:
			s.attn.addAll(id, code)
		case s.here(a.Nexus):
			s.attn.add(id, a.Nexus.Initiator, code)
		}
	}
	aborter := s.taskAborter()
	if aborter == nil {
		return
	}
	for _, n := range e.Abort {
		if !s.here(n) {
			continue
		}
		for _, lun := range s.lunsOf(id) {
			aborter.AbortTasks(n.Initiator, lun)
		}
	}
}

// lunsOf returns the numbers of the LUNs with identity id.
func (s *Server) lunsOf(id Identity) []uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ns []uint64
	for n, l := range s.luns {
		if bytes.Equal(l.Identity().NAA, id.NAA) {
			ns = append(ns, n)
		}
	}
	return ns
}

// ResetLUN is a logical unit reset of LUN lun, or with ^uint64(0) a target
// reset, that initiator port initiator asked for. Either goes through the
// store of reservations (pr.ResetCDB, pr.TargetResetCDB for each LUN), so
// that in a cluster every node carries it out: the LUN's RESERVE(6)
// reservation is released (SPC-2 5.5.1; persistent reservations stay) and
// every task of the LUN, through any node's port, is aborted. A logical
// unit reset also gives every I_T nexus that has addressed the LUN,
// through any node's port, its unit attention; should the store fail,
// this node's nexuses still get it (LUNReset). A target reset establishes
// no unit attention: libiscsi's Reserve6 suite goes on with the resetting
// nexus's commands right after one, expecting GOOD (a cold reset drops
// every connection anyway).
func (s *Server) ResetLUN(initiator string, lun uint64) {
	luns, cdb := []uint64{lun}, pr.ResetCDB()
	if lun == ^uint64(0) {
		luns, cdb = s.lunNumbers(), pr.TargetResetCDB()
	}
	ctx, cancel := context.WithTimeout(context.Background(), resetTimeout)
	defer cancel()
	for _, n := range luns {
		l := s.lun(n)
		if l == nil {
			continue
		}
		id := l.Identity()
		e, err := s.reservations.Apply(ctx, id, pr.Nexus{Initiator: initiator, TargetPort: s.cfg.RelativePortID}, cdb, nil)
		if err != nil {
			s.cfg.Logger.Warn("scsi: a reset reached only this node", "lun", n, "initiator", initiator, "err", err)
			if lun != ^uint64(0) {
				s.LUNReset(id)
			}
			continue
		}
		s.Deliver(id, e)
	}
}

// LUNReset establishes the unit attention of a logical unit reset of the
// LUN of id (29/03, BUS DEVICE RESET FUNCTION OCCURRED) for every I_T
// nexus through this target port that has addressed the LUN since its
// session began, the one that asked for the reset included (SAM-5).
func (s *Server) LUNReset(id Identity) {
	s.attn.addAll(id, sense.BusDeviceResetOccurred)
}

// NexusLost is the loss of the I_T nexus of initiator port initiator
// through this target port (its session ended): it releases the RESERVE(6)
// reservations that nexus holds, and forgets the unit attentions pending
// for it. Persistent reservations stay.
func (s *Server) NexusLost(initiator string) {
	mine := pr.Nexus{Initiator: initiator, TargetPort: s.cfg.RelativePortID}
	s.releaseLegacy(func(_ uint64, holder pr.Nexus) bool { return holder == mine })
	s.attn.lost(initiator)
}

// releaseLegacy releases the RESERVE(6) reservation of every LUN for
// which release(LUN number, holder) says so, each as its holder would.
func (s *Server) releaseLegacy(release func(lun uint64, holder pr.Nexus) bool) {
	ctx, cancel := context.WithTimeout(context.Background(), resetTimeout)
	defer cancel()
	for _, n := range s.lunNumbers() {
		l := s.lun(n)
		if l == nil {
			continue
		}
		id := l.Identity()
		holder := s.reservations.State(id).Legacy
		if holder == nil || !release(n, *holder) {
			continue
		}
		e, err := s.reservations.Apply(ctx, id, *holder, release6CDB(), nil)
		if err != nil {
			s.cfg.Logger.Warn("scsi: releasing a RESERVE(6) reservation failed", "lun", n, "holder", holder.Initiator, "err", err)
			continue
		}
		s.Deliver(id, e)
	}
}
