package pr

// OpLogicalUnitReset is not a SCSI operation code: it is the first byte of
// the CDB (ResetCDB) a device server hands Apply for a logical unit reset,
// so that a store of reservations that replicates the commands it applies
// (a cluster's log) carries the reset to every target port too. C0h-FFh
// are vendor specific, and a device server passes Apply only the commands
// it decides to, so no initiator can send it.
const OpLogicalUnitReset = 0xFF

// EveryNexus is the Nexus of an Attention or an Abort for every I_T nexus
// of the logical unit, through every target port: each that has addressed
// it, each with a task in its task set.
var EveryNexus = Nexus{}

// The unit attention of a logical unit reset (SPC-4 table D.2): BUS DEVICE
// RESET FUNCTION OCCURRED.
const (
	ascReset           = 0x29
	ascqBusDeviceReset = 0x03
)

// OpTargetReset is, like OpLogicalUnitReset, not a SCSI operation code: the
// first byte of the CDB (TargetResetCDB) a device server hands Apply, for
// each of its LUNs, for a target reset (TARGET WARM RESET, TARGET COLD
// RESET), so that it reaches every node's portal of the cluster's target.
const OpTargetReset = 0xFE

// ResetCDB is the CDB of a logical unit reset.
func ResetCDB() []byte { return []byte{OpLogicalUnitReset} }

// TargetResetCDB is the CDB of a target reset, applied to each LUN.
func TargetResetCDB() []byte { return []byte{OpTargetReset} }

// targetReset is a target reset as it concerns one logical unit: like a
// logical unit reset it releases an SPC-2 reservation and aborts every
// task of the logical unit through every target port, but it establishes
// no unit attention, as libiscsi's Reserve6 suite expects GOOD for the
// resetting nexus's next command (a cold reset drops every connection
// anyway).
func targetReset(s State) (State, Effect) {
	next, _ := reset(s)
	return next, Effect{Abort: []Nexus{EveryNexus}}
}

// reset is a logical unit reset, from any I_T nexus: it releases an SPC-2
// reservation (SPC-2 5.5.1; persistent reservations stay, SPC-4 5.13.1)
// and establishes a unit attention for every I_T nexus, the resetting one
// included, as SAM-5 6.3 asks for the others and as Linux's and tgt's
// targets do for all (libiscsi's MultipathIO.Reset checks every path). It
// aborts every task of the logical unit, through every target port: the
// resetting port's transport aborts its own before it asks, and the
// Effect carries the reset to the tasks other nodes' portals hold, so that
// none of them writes once the reset is answered.
func reset(s State) (State, Effect) {
	next := s
	if s.Legacy != nil {
		next = s.clone()
		next.Legacy = nil
	}
	return next, Effect{
		Attention: []Attention{{Nexus: EveryNexus, ASC: ascReset, ASCQ: ascqBusDeviceReset}},
		Abort:     []Nexus{EveryNexus},
	}
}
