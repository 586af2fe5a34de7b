package pr

import "errors"

// Nexus is an I_T nexus: an initiator port, known by its iSCSI name and
// ISID ("iqn.…,i,0x<ISID>") whichever node's portal it logs in through,
// and the relative target port identifier of that portal.
type Nexus struct {
	Initiator  string
	TargetPort uint16
}

// Type is a persistent reservation type (SPC-4 table 216).
type Type uint8

// The reservation types.
const (
	WriteExclusive                 Type = 0x1
	ExclusiveAccess                Type = 0x3
	WriteExclusiveRegistrantsOnly  Type = 0x5
	ExclusiveAccessRegistrantsOnly Type = 0x6
	WriteExclusiveAllRegistrants   Type = 0x7
	ExclusiveAccessAllRegistrants  Type = 0x8
)

// Registration is one registered reservation key.
type Registration struct {
	Nexus Nexus
	Key   uint64
	// AllTargetPorts: registered with ALL_TG_PT, so the key holds for the
	// initiator port through every target port.
	AllTargetPorts bool
}

// State is one LUN's reservations. The zero State has none.
type State struct {
	// Generation is PRgeneration, incremented by every change to the
	// registrations.
	Generation uint32
	// Registrations in the order they were made.
	Registrations []Registration
	// Reserved tells whether a persistent reservation of Type is held, by
	// Holder unless Type is an All Registrants type.
	Reserved bool
	Type     Type
	Holder   Nexus
	// APTPL is the Activate Persist Through Power Loss state last set.
	APTPL bool
	// Legacy is the holder of an SPC-2 reservation (RESERVE(6)), if any.
	Legacy *Nexus
}

// Effect is what a change asks of the target beyond the new State.
type Effect struct {
	// Abort lists the nexuses whose tasks on the LUN must be aborted
	// (PREEMPT AND ABORT). A TargetPort of 0 means the initiator port
	// through every target port (see Nexus.Covers).
	Abort []Nexus
	// Attention lists the unit attentions to establish for other nexuses
	// (REGISTRATIONS PREEMPTED, RESERVATIONS PREEMPTED, RESERVATIONS
	// RELEASED).
	Attention []Attention
}

// Attention is a unit attention condition for one nexus.
type Attention struct {
	// Nexus is the I_T nexus; a TargetPort of 0 means the initiator port
	// through every target port (see Nexus.Covers).
	Nexus Nexus
	// ASC and ASCQ of the unit attention (SPC-4 table D.2).
	ASC, ASCQ byte
}

// ErrConflict is returned, wrapped, for a command the reservations refuse:
// the device server answers it with RESERVATION CONFLICT.
var ErrConflict = errors.New("reservation conflict")
