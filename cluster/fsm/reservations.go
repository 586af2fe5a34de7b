package fsm

import (
	"fmt"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/pr"
)

// reserve applies a SCSI reservation command (PERSISTENT RESERVE OUT,
// RESERVE(6), RELEASE(6)) an initiator sent through some node's portal to
// the disk's reservations, with the package pr's rules, so that every
// replica reaches the same State and the same outcome. A command pr
// refuses changes nothing: its error (a *sense.Sense, or one wrapping
// pr.ErrConflict) is the entry's outcome, for the proposer to answer the
// initiator with. The returned Disk carries the new reservations.
func (s *state) reserve(cmd *ferryv1.Command, op *ferryv1.ReserveOp) (*ferryv1.Disk, pr.Effect, error) {
	var v violations
	v.commandTime(cmd)
	if op.GetDisk() == "" {
		v.add("disk", "required")
	}
	if op.GetNexus().GetInitiator() == "" {
		v.add("nexus.initiator", "required: the initiator port (name,i,0xISID)")
	}
	if op.GetNexus().GetTargetPort() > 0xFFFF {
		v.add("nexus.target_port", "must be a relative target port identifier (at most 65535)")
	}
	if len(op.GetCdb()) == 0 {
		v.add("cdb", "required")
	}
	if err := v.err(); err != nil {
		return nil, pr.Effect{}, err
	}
	d, ok := s.disks[op.GetDisk()]
	if !ok {
		return nil, pr.Effect{}, fmt.Errorf("reservation command for disk %q: %w", op.GetDisk(), ErrNotFound)
	}
	st, eff, err := pr.Apply(ReservationState(d.GetReservation()), nexusFrom(op.GetNexus()), op.GetCdb(), op.GetParameters())
	if err != nil {
		return nil, pr.Effect{}, fmt.Errorf("disk %s: %w", d.GetName(), err)
	}
	d.Reservation = ReservationProto(st)
	return d, eff, nil
}

// ReservationState converts a disk's stored reservations to the package
// pr's State; nil is the zero State (none). It and ReservationProto are the
// one place the two forms meet.
func ReservationState(p *ferryv1.PersistentReservation) pr.State {
	st := pr.State{
		Generation: p.GetGeneration(),
		Reserved:   p.GetReserved(),
		Type:       pr.Type(p.GetType()),
		APTPL:      p.GetAptpl(),
	}
	if p.GetReserved() {
		st.Holder = nexusFrom(p.GetHolder())
	}
	for _, r := range p.GetRegistrations() {
		st.Registrations = append(st.Registrations, pr.Registration{
			Nexus: nexusFrom(r.GetNexus()), Key: r.GetKey(), AllTargetPorts: r.GetAllTargetPorts(),
		})
	}
	if p.GetLegacyHolder() != nil {
		n := nexusFrom(p.GetLegacyHolder())
		st.Legacy = &n
	}
	return st
}

// ReservationProto is ReservationState's inverse. The zero State is stored
// as nil: a disk that never saw a reservation command has none.
func ReservationProto(st pr.State) *ferryv1.PersistentReservation {
	if st.Generation == 0 && len(st.Registrations) == 0 && !st.Reserved && !st.APTPL && st.Legacy == nil {
		return nil
	}
	p := &ferryv1.PersistentReservation{
		Generation: st.Generation,
		Reserved:   st.Reserved,
		Aptpl:      st.APTPL,
	}
	if st.Reserved {
		p.Type = uint32(st.Type)
		p.Holder = nexusProto(st.Holder)
	}
	for _, r := range st.Registrations {
		p.Registrations = append(p.Registrations, &ferryv1.PRRegistration{
			Nexus: nexusProto(r.Nexus), Key: r.Key, AllTargetPorts: r.AllTargetPorts,
		})
	}
	if st.Legacy != nil {
		p.LegacyHolder = nexusProto(*st.Legacy)
	}
	return p
}

func nexusFrom(n *ferryv1.PRNexus) pr.Nexus {
	return pr.Nexus{Initiator: n.GetInitiator(), TargetPort: uint16(n.GetTargetPort())}
}

func nexusProto(n pr.Nexus) *ferryv1.PRNexus {
	return &ferryv1.PRNexus{Initiator: n.Initiator, TargetPort: uint32(n.TargetPort)}
}

// CopyExcluded says why a copy job may not write the disk now: an
// initiator holds a reservation on it, persistent (every type excludes
// writers other than its holder or registrants, and a copy job is
// neither) or SPC-2 (RESERVE(6)). "" when a copy may write it. The
// scheduler keeps such a job queued with this reason and the state machine
// refuses to place it, so that iSCSI writes and a copy never interleave;
// the reverse, an iSCSI write while a copy writes the disk, is refused by
// the target (rpc/iscsitarget).
func CopyExcluded(d *ferryv1.Disk) string {
	r := d.GetReservation()
	switch {
	case r.GetReserved() && r.GetHolder() != nil:
		return fmt.Sprintf("disk %s is reserved (%s) by initiator %s through target port %d",
			d.GetName(), TypeName(pr.Type(r.GetType())), r.GetHolder().GetInitiator(), r.GetHolder().GetTargetPort())
	case r.GetReserved():
		return fmt.Sprintf("disk %s is reserved (%s) by its %d registrants", d.GetName(), TypeName(pr.Type(r.GetType())), len(r.GetRegistrations()))
	case r.GetLegacyHolder() != nil:
		return fmt.Sprintf("disk %s is reserved (RESERVE(6)) by initiator %s through target port %d",
			d.GetName(), r.GetLegacyHolder().GetInitiator(), r.GetLegacyHolder().GetTargetPort())
	}
	return ""
}

// TypeName names a persistent reservation type as SPC-4 does.
func TypeName(t pr.Type) string {
	switch t {
	case pr.WriteExclusive:
		return "Write Exclusive"
	case pr.ExclusiveAccess:
		return "Exclusive Access"
	case pr.WriteExclusiveRegistrantsOnly:
		return "Write Exclusive, Registrants Only"
	case pr.ExclusiveAccessRegistrantsOnly:
		return "Exclusive Access, Registrants Only"
	case pr.WriteExclusiveAllRegistrants:
		return "Write Exclusive, All Registrants"
	case pr.ExclusiveAccessAllRegistrants:
		return "Exclusive Access, All Registrants"
	}
	return fmt.Sprintf("type %d", t)
}

// ReservedDestination is CopyExcluded for the first disk a copy of spec
// would write that an initiator has reserved, "" when none is: such a copy
// is not placed until the reservation is released.
func (f *FSM) ReservedDestination(spec *ferryv1.JobSpec) string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.reservedDestination(spec)
}

func (s *state) reservedDestination(spec *ferryv1.JobSpec) string {
	acc, _ := s.resolveAccess(spec)
	for _, d := range acc.Devices {
		if d.Write && d.Device.Disk != nil {
			if reason := CopyExcluded(d.Device.Disk); reason != "" {
				return reason
			}
		}
	}
	return ""
}
