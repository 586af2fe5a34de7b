package pr

// everyTargetPort is the TargetPort of an Attention or an Abort for an
// initiator port registered with ALL_TG_PT: the condition holds for that
// initiator port through every target port. Relative port 0 is reserved
// by SPC-4, so no real target port has it.
const everyTargetPort = 0

// Covers reports whether an Attention or an Abort addressed to n is for
// I_T nexus m: the same initiator port, through m's target port or, when
// n's TargetPort is 0, through any.
func (n Nexus) Covers(m Nexus) bool {
	return n.Initiator == m.Initiator && (n.TargetPort == everyTargetPort || n.TargetPort == m.TargetPort)
}

// valid reports whether t is one of the six reservation types.
func (t Type) valid() bool {
	switch t {
	case WriteExclusive, ExclusiveAccess,
		WriteExclusiveRegistrantsOnly, ExclusiveAccessRegistrantsOnly,
		WriteExclusiveAllRegistrants, ExclusiveAccessAllRegistrants:
		return true
	}
	return false
}

// allRegistrants reports an All Registrants type: every registered I_T
// nexus is a reservation holder.
func (t Type) allRegistrants() bool {
	return t == WriteExclusiveAllRegistrants || t == ExclusiveAccessAllRegistrants
}

// registrantsOnly reports a Registrants Only type.
func (t Type) registrantsOnly() bool {
	return t == WriteExclusiveRegistrantsOnly || t == ExclusiveAccessRegistrantsOnly
}

// writeExclusive reports a Write Exclusive type (non-holders may read).
func (t Type) writeExclusive() bool {
	return t == WriteExclusive || t == WriteExclusiveRegistrantsOnly || t == WriteExclusiveAllRegistrants
}

// matches reports whether r is the registration of I_T nexus n: same
// initiator port, and the same target port unless r was made with
// ALL_TG_PT.
func (r Registration) matches(n Nexus) bool {
	return r.Nexus.Initiator == n.Initiator && (r.AllTargetPorts || r.Nexus.TargetPort == n.TargetPort)
}

// target is the nexus an attention or an abort for r's registrant goes to.
func (r Registration) target() Nexus {
	if r.AllTargetPorts {
		return Nexus{Initiator: r.Nexus.Initiator, TargetPort: everyTargetPort}
	}
	return r.Nexus
}

// registration returns the index of n's registration in s, or -1.
func (s State) registration(n Nexus) int {
	for i, r := range s.Registrations {
		if r.matches(n) {
			return i
		}
	}
	return -1
}

// initiatorRegistered reports whether the initiator port is registered
// through any target port.
func (s State) initiatorRegistered(initiator string) bool {
	for _, r := range s.Registrations {
		if r.Nexus.Initiator == initiator {
			return true
		}
	}
	return false
}

// Registered reports whether I_T nexus n holds a registration.
func (s State) Registered(n Nexus) bool { return s.registration(n) >= 0 }

// IsHolder reports whether n holds the persistent reservation: it is the
// holder, or the type is All Registrants and n is registered.
func (s State) IsHolder(n Nexus) bool {
	if !s.Reserved {
		return false
	}
	if s.Type.allRegistrants() {
		return s.Registered(n)
	}
	return s.Holder == n
}

// holderKey is the reservation key READ RESERVATION reports: the holder's
// key, or zero for an All Registrants type (SPC-4 6.16.3.3).
func (s State) holderKey() uint64 {
	if s.Type.allRegistrants() {
		return 0
	}
	if i := s.registration(s.Holder); i >= 0 {
		return s.Registrations[i].Key
	}
	return 0
}

// clone returns a copy of s that shares no memory with it, so that a
// change never reaches the State a caller passed in.
func (s State) clone() State {
	c := s
	c.Registrations = append([]Registration(nil), s.Registrations...)
	if s.Legacy != nil {
		l := *s.Legacy
		c.Legacy = &l
	}
	return c
}

// attentionAll returns the unit attention code for every registrant but n.
func (s State) attentionAll(n Nexus, asc, ascq byte) []Attention {
	var as []Attention
	for _, r := range s.Registrations {
		if !r.matches(n) {
			as = append(as, Attention{Nexus: r.target(), ASC: asc, ASCQ: ascq})
		}
	}
	return as
}
