package pr

import (
	"encoding/binary"
	"fmt"

	"github.com/ferry-san/ferry/scsi/sense"
)

// Operation codes Apply decides.
const (
	OpPersistentReserveOut = 0x5F
	OpPersistentReserveIn  = 0x5E
	OpReserve6             = 0x16
	OpRelease6             = 0x17
)

// PERSISTENT RESERVE OUT service actions (SPC-4 table 222).
const (
	saRegister            = 0x00
	saReserve             = 0x01
	saRelease             = 0x02
	saClear               = 0x03
	saPreempt             = 0x04
	saPreemptAndAbort     = 0x05
	saRegisterIgnore      = 0x06
	saRegisterAndMove     = 0x07
	saReplaceLost         = 0x08
	serviceActionMask     = 0x1F
	prOutCDBLen           = 10
	prOutParamLen         = 24
	scopeLU               = 0x0
	flagSpecIPT           = 0x08
	flagAllTgPt           = 0x04
	flagAPTPL             = 0x01
	paramFlagsByte        = 20
	paramServiceActionKey = 8
)

// Apply decides a reservation command from I_T nexus n: PERSISTENT
// RESERVE OUT (with params, its parameter list), RESERVE(6), RELEASE(6), a
// logical unit reset (ResetCDB) or a target reset (TargetResetCDB).
// It returns the State after the command and what the target must do
// beyond it, or an error: a *sense.Sense for a CHECK CONDITION, or one
// wrapping ErrConflict for RESERVATION CONFLICT. On error the State
// returned is s, unchanged. s is never modified.
func Apply(s State, n Nexus, cdb, params []byte) (State, Effect, error) {
	if len(cdb) == 0 {
		return s, Effect{}, sense.New(sense.IllegalRequest, sense.InvalidCommandOperationCode)
	}
	var (
		next State
		e    Effect
		err  error
	)
	switch cdb[0] {
	case OpPersistentReserveOut:
		next, e, err = persistentReserveOut(s, n, cdb, params)
	case OpReserve6:
		next, err = reserve6(s, n, cdb)
	case OpRelease6:
		next, err = release6(s, n, cdb)
	case OpLogicalUnitReset:
		next, e = reset(s)
	case OpTargetReset:
		next, e = targetReset(s)
	default:
		return s, Effect{}, sense.New(sense.IllegalRequest, sense.InvalidCommandOperationCode)
	}
	if err != nil {
		return s, Effect{}, err
	}
	return next, e, nil
}

// OutServiceActions are the PERSISTENT RESERVE OUT service actions Apply
// decides, in order: the device server advertises exactly these (REGISTER
// AND MOVE and REPLACE LOST RESERVATION are refused).
func OutServiceActions() []byte {
	return []byte{saRegister, saReserve, saRelease, saClear, saPreempt, saPreemptAndAbort, saRegisterIgnore}
}

// conflict is the error of a command the reservations refuse.
func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConflict}, args...)...)
}

// outParams is PERSISTENT RESERVE OUT's basic parameter list (SPC-4
// 6.17.2).
type outParams struct {
	key, serviceKey       uint64
	allTargetPorts, aptpl bool
}

// persistentReserveOut checks the CDB and the parameter list and runs the
// service action.
func persistentReserveOut(s State, n Nexus, cdb, params []byte) (State, Effect, error) {
	if len(cdb) < prOutCDBLen {
		return s, Effect{}, sense.InvalidCDB(uint16(len(cdb)), -1)
	}
	sa := cdb[1] & serviceActionMask
	switch sa {
	case saRegister, saRegisterIgnore, saReserve, saRelease, saClear, saPreempt, saPreemptAndAbort:
	default:
		// REGISTER AND MOVE and REPLACE LOST RESERVATION are not
		// supported; anything above is reserved.
		return s, Effect{}, sense.InvalidCDB(1, 4)
	}
	scope, typ := cdb[2]>>4, Type(cdb[2]&0x0F)
	switch sa {
	case saReserve, saRelease, saPreempt, saPreemptAndAbort:
		if scope != scopeLU {
			return s, Effect{}, sense.InvalidCDB(2, 7)
		}
		if !typ.valid() {
			return s, Effect{}, sense.InvalidCDB(2, 3)
		}
	}
	p, err := parseOutParams(cdb, params)
	if err != nil {
		return s, Effect{}, err
	}
	if s.Legacy != nil {
		// SPC-2 5.5.1: while a RESERVE(6) reservation is held, every
		// PERSISTENT RESERVE command conflicts, whoever sends it.
		return s, Effect{}, conflict("the logical unit is reserved by RESERVE(6)")
	}
	i := s.registration(n)
	if sa != saRegisterIgnore {
		switch {
		case i < 0 && (sa != saRegister || p.key != 0):
			return s, Effect{}, conflict("I_T nexus not registered")
		case i >= 0 && s.Registrations[i].Key != p.key:
			return s, Effect{}, conflict("reservation key %#x is not the key registered, %#x", p.key, s.Registrations[i].Key)
		}
	}
	switch sa {
	case saRegister, saRegisterIgnore:
		if i < 0 && p.allTargetPorts && p.serviceKey != 0 && s.initiatorRegistered(n.Initiator) {
			// The registration would hold through target ports the
			// initiator port is registered through already.
			return s, Effect{}, conflict("ALL_TG_PT: %s is registered through another target port", n.Initiator)
		}
		next, e := register(s, n, p)
		return next, e, nil
	case saReserve:
		next, err := reserve(s, n, typ)
		return next, Effect{}, err
	case saRelease:
		return release(s, n, typ)
	case saClear:
		next, e := clear(s, n)
		return next, e, nil
	default:
		return preempt(s, n, typ, p.serviceKey, sa == saPreemptAndAbort)
	}
}

// parseOutParams checks PARAMETER LIST LENGTH against the 24 bytes of the
// basic parameter list (SPC-4 6.17.2) and decodes it. SPEC_I_PT is not
// supported: its TransportIDs would register other initiator ports.
func parseOutParams(cdb, params []byte) (outParams, error) {
	plen := binary.BigEndian.Uint32(cdb[5:9])
	if plen != prOutParamLen || uint32(len(params)) < plen {
		return outParams{}, sense.New(sense.IllegalRequest, sense.ParameterListLengthError)
	}
	flags := params[paramFlagsByte]
	if flags&flagSpecIPT != 0 {
		return outParams{}, sense.InvalidParameter(paramFlagsByte, 3)
	}
	return outParams{
		key:            binary.BigEndian.Uint64(params[0:8]),
		serviceKey:     binary.BigEndian.Uint64(params[paramServiceActionKey:16]),
		allTargetPorts: flags&flagAllTgPt != 0,
		aptpl:          flags&flagAPTPL != 0,
	}, nil
}

// register is REGISTER and REGISTER AND IGNORE EXISTING KEY once the key
// has been checked (SPC-4 5.13.7): a new registration, a new key, or with
// a zero service action key the nexus's unregistration.
func register(s State, n Nexus, p outParams) (State, Effect) {
	i := s.registration(n)
	if p.serviceKey == 0 {
		if i < 0 {
			return s, Effect{} // nothing registered, nothing to remove
		}
		return unregister(s, n, i)
	}
	next := s.clone()
	if i < 0 {
		next.Registrations = append(next.Registrations, Registration{Nexus: n, Key: p.serviceKey, AllTargetPorts: p.allTargetPorts})
	} else {
		next.Registrations[i].Key = p.serviceKey
	}
	next.APTPL = p.aptpl
	next.Generation++
	return next, Effect{}
}

// unregister removes registration i, n's (SPC-4 5.13.11.3): the holder of a
// reservation that is not All Registrants releases it (through whichever
// target port an ALL_TG_PT registration goes away), and the other
// registrants of a Registrants Only reservation are told so; an All
// Registrants reservation lasts while anyone is registered.
func unregister(s State, n Nexus, i int) (State, Effect) {
	next := s.clone()
	next.Registrations = append(next.Registrations[:i:i], next.Registrations[i+1:]...)
	next.Generation++
	var e Effect
	switch {
	case !s.Reserved:
	case s.Type.allRegistrants():
		if len(next.Registrations) == 0 {
			next.releaseReservation()
		}
	case s.Registrations[i].matches(s.Holder):
		if s.Type.registrantsOnly() {
			e.Attention = next.attentionAll(n, releasedASC, releasedASCQ)
		}
		next.releaseReservation()
	}
	return next, e
}

// The unit attentions reservations establish (SPC-4 table D.2, ASC 2Ah).
const (
	preemptedASC, preemptedASCQ       = 0x2A, 0x03 // RESERVATIONS PREEMPTED
	releasedASC, releasedASCQ         = 0x2A, 0x04 // RESERVATIONS RELEASED
	regPreemptedASC, regPreemptedASCQ = 0x2A, 0x05 // REGISTRATIONS PREEMPTED
)

// releaseReservation drops the persistent reservation.
func (s *State) releaseReservation() {
	s.Reserved, s.Type, s.Holder = false, 0, Nexus{}
}

// reserve is RESERVE (SPC-4 5.13.9) from a registered nexus.
func reserve(s State, n Nexus, t Type) (State, error) {
	if s.Reserved {
		if !s.IsHolder(n) {
			return s, conflict("the logical unit is reserved by another I_T nexus")
		}
		if s.Type != t {
			return s, conflict("the I_T nexus holds a reservation of type %#x, not %#x", s.Type, t)
		}
		return s, nil // the holder reserving again changes nothing
	}
	next := s.clone()
	next.Reserved, next.Type, next.Holder = true, t, n
	return next, nil
}

// release is RELEASE (SPC-4 5.13.11.2) from a registered nexus. A nexus
// that does not hold the reservation, or finds none, succeeds and changes
// nothing.
func release(s State, n Nexus, t Type) (State, Effect, error) {
	if !s.IsHolder(n) {
		return s, Effect{}, nil
	}
	if s.Type != t {
		return s, Effect{}, sense.New(sense.IllegalRequest, sense.InvalidReleaseOfPR)
	}
	next := s.clone()
	var e Effect
	if s.Type.registrantsOnly() || s.Type.allRegistrants() {
		e.Attention = next.attentionAll(n, releasedASC, releasedASCQ)
	}
	next.releaseReservation()
	return next, e, nil
}

// clear is CLEAR (SPC-4 5.13.11.2.6): every registration and the
// reservation go, and every other registrant is told RESERVATIONS
// PREEMPTED.
func clear(s State, n Nexus) (State, Effect) {
	next := s.clone()
	e := Effect{Attention: s.attentionAll(n, preemptedASC, preemptedASCQ)}
	next.Registrations = nil
	next.releaseReservation()
	next.Generation++
	return next, e
}

// preempt is PREEMPT and PREEMPT AND ABORT (SPC-4 5.13.11.4) from a
// registered nexus, with key the SERVICE ACTION RESERVATION KEY.
func preempt(s State, n Nexus, t Type, key uint64, abort bool) (State, Effect, error) {
	next := s.clone()
	var removed []Registration
	switch {
	case s.Reserved && s.Type.allRegistrants() && key == 0:
		// Every other registration goes and n holds a new reservation.
		removed = next.removeRegistrations(func(r Registration) bool { return !r.matches(n) })
		next.Reserved, next.Type, next.Holder = true, t, n
	case s.Reserved && !s.Type.allRegistrants() && key != 0 && key == s.holderKey():
		// The holder is preempted: its key's registrations go (n's own
		// stays) and n holds the reservation, of type t.
		removed = next.removeRegistrations(func(r Registration) bool { return r.Key == key && !r.matches(n) })
		next.Reserved, next.Type, next.Holder = true, t, n
	default:
		// No reservation is preempted: only registrations with the key go.
		if key == 0 {
			return s, Effect{}, sense.InvalidParameter(paramServiceActionKey, -1)
		}
		removed = next.removeRegistrations(func(r Registration) bool { return r.Key == key })
		if len(removed) == 0 {
			return s, Effect{}, conflict("no registration has reservation key %#x", key)
		}
		if next.Reserved && next.Type.allRegistrants() && len(next.Registrations) == 0 {
			next.releaseReservation()
		}
	}
	next.Generation++
	var e Effect
	for _, r := range removed {
		if r.matches(n) {
			continue // a nexus that preempts its own key is not told
		}
		e.Attention = append(e.Attention, Attention{Nexus: r.target(), ASC: regPreemptedASC, ASCQ: regPreemptedASCQ})
		if abort {
			e.Abort = append(e.Abort, r.target())
		}
	}
	if s.Reserved && next.Reserved && (s.Type != next.Type) {
		// The remaining registrants lose the reservation they shared
		// or knew of, replaced by another type.
		e.Attention = append(e.Attention, next.attentionAll(n, releasedASC, releasedASCQ)...)
	}
	return next, e, nil
}

// removeRegistrations drops the registrations drop selects from s and
// returns them.
func (s *State) removeRegistrations(drop func(Registration) bool) []Registration {
	var removed, kept []Registration
	for _, r := range s.Registrations {
		if drop(r) {
			removed = append(removed, r)
		} else {
			kept = append(kept, r)
		}
	}
	s.Registrations = kept
	return removed
}
