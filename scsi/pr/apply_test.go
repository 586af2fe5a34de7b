package pr_test

import (
	"reflect"
	"testing"

	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sense"
)

// The unit attentions of reservations.
var (
	reservationsPreempted  = sense.ReservationsPreempted
	reservationsReleased   = sense.ReservationsReleased
	registrationsPreempted = sense.RegistrationsPreempted
)

// ua is the attention code for nexus n.
func ua(n pr.Nexus, code sense.Code) pr.Attention {
	return pr.Attention{Nexus: n, ASC: code.ASC(), ASCQ: code.ASCQ()}
}

// every is initiator port n through every target port.
func every(n pr.Nexus) pr.Nexus { return pr.Nexus{Initiator: n.Initiator} }

// holds is a State reserved by holder.
func holds(gen uint32, t pr.Type, holder pr.Nexus, regs ...pr.Registration) pr.State {
	return pr.State{Generation: gen, Registrations: regs, Reserved: true, Type: t, Holder: holder}
}

// registered is an unreserved State.
func registered(gen uint32, regs ...pr.Registration) pr.State {
	return pr.State{Generation: gen, Registrations: regs}
}

var (
	illegalCDB     = sn(sense.IllegalRequest, sense.InvalidFieldInCDB)
	illegalParam   = sn(sense.IllegalRequest, sense.InvalidFieldInParameterList)
	paramLength    = sn(sense.IllegalRequest, sense.ParameterListLengthError)
	invalidRelease = sn(sense.IllegalRequest, sense.InvalidReleaseOfPR)
	invalidOpcode  = sn(sense.IllegalRequest, sense.InvalidCommandOperationCode)
)

func TestApply(t *testing.T) {
	ab := []cmd{register(a, 0, ka), register(b, 0, kb)}
	abc := []cmd{register(a, 0, ka), register(b, 0, kb), register(c, 0, kc)}
	with := func(setup []cmd, more ...cmd) []cmd { return append(append([]cmd(nil), setup...), more...) }
	tests := []struct {
		name   string
		setup  []cmd
		c      cmd
		err    wantErr
		want   pr.State
		effect pr.Effect
	}{
		// REGISTER and REGISTER AND IGNORE EXISTING KEY.
		{name: "register", c: register(a, 0, ka), want: registered(1, reg(a, ka))},
		{name: "register unregistered with a key", c: register(a, 7, ka), err: errConflict},
		{name: "register zero key unregistered does nothing", c: register(a, 0, 0), want: pr.State{}},
		{name: "register second nexus", setup: ab[:1], c: register(b, 0, kb), want: registered(2, reg(a, ka), reg(b, kb))},
		{name: "register new key", setup: ab[:1], c: register(a, ka, 0x77), want: registered(2, reg(a, 0x77))},
		{name: "register wrong key", setup: ab[:1], c: register(a, ka+1, 0x77), err: errConflict},
		{name: "register registered with zero key", setup: ab[:1], c: register(a, 0, 0x77), err: errConflict},
		{name: "unregister", setup: ab, c: register(a, ka, 0), want: registered(3, reg(b, kb))},
		{name: "unregister last", setup: ab[:1], c: register(a, ka, 0), want: registered(2)},
		{name: "register and ignore", c: registerIgnore(a, ka), want: registered(1, reg(a, ka))},
		{name: "register and ignore replaces", setup: ab[:1], c: registerIgnore(a, 0x99), want: registered(2, reg(a, 0x99))},
		{name: "register and ignore unregisters", setup: ab[:1], c: registerIgnore(a, 0), want: registered(2)},
		{name: "register and ignore zero unregistered", c: registerIgnore(a, 0), want: pr.State{}},
		{name: "register all target ports", c: registerFlags(a, 0, ka, allTgPt),
			want: registered(1, pr.Registration{Nexus: a, Key: ka, AllTargetPorts: true})},
		{name: "all target ports: registered through the other port", setup: []cmd{registerFlags(a, 0, ka, allTgPt)},
			c: register(a2, ka, 0x55), want: registered(2, pr.Registration{Nexus: a, Key: 0x55, AllTargetPorts: true})},
		{name: "one target port: not registered through the other", setup: ab[:1], c: register(a2, 0, 0x55),
			want: registered(2, reg(a, ka), reg(a2, 0x55))},
		{name: "all target ports over a registration through one port", setup: ab[:1], c: registerFlags(a2, 0, 0x55, allTgPt), err: errConflict},
		{name: "aptpl", c: registerFlags(a, 0, ka, aptpl), want: pr.State{Generation: 1, Registrations: []pr.Registration{reg(a, ka)}, APTPL: true}},
		{name: "spec_i_pt refused", c: registerFlags(a, 0, ka, specIPT), err: illegalParam},
		{name: "parameter list length 0", c: cmd{a, outCDBLen(saRegister, 0, 0), nil}, err: paramLength},
		{name: "parameter list length 23", c: cmd{a, outCDBLen(saRegister, 0, 23), params(0, ka, 0)[:23]}, err: paramLength},
		{name: "parameter list length 25", c: cmd{a, outCDBLen(saRegister, 0, 25), append(params(0, ka, 0), 0)}, err: paramLength},
		{name: "parameter list shorter than its length", c: cmd{a, outCDB(saRegister, 0), params(0, ka, 0)[:10]}, err: paramLength},
		{name: "register and move unsupported", c: cmd{a, outCDB(0x07, 0), params(0, ka, 0)}, err: illegalCDB},
		{name: "replace lost reservation unsupported", c: cmd{a, outCDB(0x08, 0), params(0, ka, 0)}, err: illegalCDB},
		{name: "reserved service action", c: cmd{a, outCDB(0x1F, 0), params(0, ka, 0)}, err: illegalCDB},
		{name: "short cdb", c: cmd{a, []byte{pr.OpPersistentReserveOut, 0, 0}, params(0, ka, 0)}, err: illegalCDB},
		{name: "unknown opcode", c: cmd{a, []byte{0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil}, err: invalidOpcode},
		{name: "empty cdb", c: cmd{a, nil, nil}, err: invalidOpcode},

		// Unregistering the holder.
		{name: "unregister holder of write exclusive", setup: with(ab, reserve(a, ka, pr.WriteExclusive)),
			c: register(a, ka, 0), want: registered(3, reg(b, kb))},
		{name: "unregister holder of registrants only", setup: with(ab, reserve(a, ka, pr.WriteExclusiveRegistrantsOnly)),
			c: register(a, ka, 0), want: registered(3, reg(b, kb)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, reservationsReleased)}}},
		{name: "unregister a registrant of all registrants", setup: with(ab, reserve(a, ka, pr.ExclusiveAccessAllRegistrants)),
			c: register(a, ka, 0), want: holds(3, pr.ExclusiveAccessAllRegistrants, a, reg(b, kb))},
		{name: "unregister the last registrant of all registrants", setup: with(ab[:1], reserve(a, ka, pr.WriteExclusiveAllRegistrants)),
			c: register(a, ka, 0), want: registered(2)},
		{name: "unregister a non-holder", setup: with(ab, reserve(a, ka, pr.ExclusiveAccess)),
			c: register(b, kb, 0), want: holds(3, pr.ExclusiveAccess, a, reg(a, ka))},
		{name: "unregister all-target-ports holder through another port",
			setup: []cmd{registerFlags(a, 0, ka, allTgPt), register(b, 0, kb), reserve(a, ka, pr.ExclusiveAccessRegistrantsOnly)},
			c:     register(a2, ka, 0), want: registered(3, reg(b, kb)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, reservationsReleased)}}},

		// RESERVE.
		{name: "reserve unregistered", c: reserve(a, 0, pr.WriteExclusive), err: errConflict},
		{name: "reserve wrong key", setup: ab[:1], c: reserve(a, kb, pr.WriteExclusive), err: errConflict},
		{name: "reserve scope", setup: ab[:1], c: cmd{a, outCDB(saReserve, 0x10|pr.WriteExclusive), params(ka, 0, 0)}, err: illegalCDB},
		{name: "reserve type 0", setup: ab[:1], c: reserve(a, ka, 0), err: illegalCDB},
		{name: "reserve type 2", setup: ab[:1], c: reserve(a, ka, 2), err: illegalCDB},
		{name: "reserve type 4", setup: ab[:1], c: reserve(a, ka, 4), err: illegalCDB},
		{name: "reserve type 9", setup: ab[:1], c: reserve(a, ka, 9), err: illegalCDB},
		{name: "reserve held by another", setup: with(ab, reserve(b, kb, pr.WriteExclusive)), c: reserve(a, ka, pr.WriteExclusive), err: errConflict},
		{name: "reserve again", setup: with(ab, reserve(a, ka, pr.WriteExclusive)), c: reserve(a, ka, pr.WriteExclusive),
			want: holds(2, pr.WriteExclusive, a, reg(a, ka), reg(b, kb))},
		{name: "reserve another type", setup: with(ab, reserve(a, ka, pr.WriteExclusive)), c: reserve(a, ka, pr.ExclusiveAccess), err: errConflict},
		{name: "reserve through another port", setup: with([]cmd{registerFlags(a, 0, ka, allTgPt)}, reserve(a, ka, pr.WriteExclusive)),
			c: reserve(a2, ka, pr.WriteExclusive), err: errConflict},
		{name: "reserve all registrants from another registrant", setup: with(ab, reserve(a, ka, pr.WriteExclusiveAllRegistrants)),
			c: reserve(b, kb, pr.WriteExclusiveAllRegistrants), want: holds(2, pr.WriteExclusiveAllRegistrants, a, reg(a, ka), reg(b, kb))},

		// RELEASE.
		{name: "release unregistered", c: release(a, 0, pr.WriteExclusive), err: errConflict},
		{name: "release nothing", setup: ab, c: release(a, ka, pr.WriteExclusive), want: registered(2, reg(a, ka), reg(b, kb))},
		{name: "release by a non-holder does nothing", setup: with(ab, reserve(a, ka, pr.ExclusiveAccess)),
			c: release(b, kb, pr.ExclusiveAccess), want: holds(2, pr.ExclusiveAccess, a, reg(a, ka), reg(b, kb))},
		{name: "release wrong type", setup: with(ab, reserve(a, ka, pr.ExclusiveAccess)),
			c: release(a, ka, pr.WriteExclusive), err: invalidRelease},
		{name: "release wrong key", setup: with(ab, reserve(a, ka, pr.ExclusiveAccess)),
			c: release(a, kb, pr.ExclusiveAccess), err: errConflict},
		{name: "release exclusive access", setup: with(ab, reserve(a, ka, pr.ExclusiveAccess)),
			c: release(a, ka, pr.ExclusiveAccess), want: registered(2, reg(a, ka), reg(b, kb))},
		{name: "release registrants only", setup: with(abc, reserve(a, ka, pr.ExclusiveAccessRegistrantsOnly)),
			c: release(a, ka, pr.ExclusiveAccessRegistrantsOnly), want: registered(3, reg(a, ka), reg(b, kb), reg(c, kc)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, reservationsReleased), ua(c, reservationsReleased)}}},
		{name: "release all registrants by another registrant", setup: with(ab, reserve(a, ka, pr.WriteExclusiveAllRegistrants)),
			c: release(b, kb, pr.WriteExclusiveAllRegistrants), want: registered(2, reg(a, ka), reg(b, kb)),
			effect: pr.Effect{Attention: []pr.Attention{ua(a, reservationsReleased)}}},

		// CLEAR.
		{name: "clear unregistered", setup: ab, c: clearAll(c, 0), err: errConflict},
		{name: "clear wrong key", setup: ab, c: clearAll(a, kb), err: errConflict},
		{name: "clear", setup: with(abc, reserve(b, kb, pr.ExclusiveAccess)), c: clearAll(a, ka), want: registered(4),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, reservationsPreempted), ua(c, reservationsPreempted)}}},
		{name: "clear all target ports", setup: []cmd{register(a, 0, ka), registerFlags(b, 0, kb, allTgPt)}, c: clearAll(a, ka), want: registered(3),
			effect: pr.Effect{Attention: []pr.Attention{ua(every(b), reservationsPreempted)}}},

		// PREEMPT and PREEMPT AND ABORT.
		{name: "preempt unregistered", setup: ab, c: preempt(c, 0, kb, pr.WriteExclusive), err: errConflict},
		{name: "preempt registration", setup: abc, c: preempt(a, ka, kb, pr.WriteExclusive), want: registered(4, reg(a, ka), reg(c, kc)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, registrationsPreempted)}}},
		{name: "preempt zero key without reservation", setup: ab, c: preempt(a, ka, 0, pr.WriteExclusive), err: illegalParam},
		{name: "preempt unknown key", setup: ab, c: preempt(a, ka, 0x1234, pr.WriteExclusive), err: errConflict},
		{name: "preempt every registration of a key", setup: []cmd{register(a, 0, ka), register(b, 0, kb), register(c, 0, kb)},
			c: preempt(a, ka, kb, pr.WriteExclusive), want: registered(4, reg(a, ka)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, registrationsPreempted), ua(c, registrationsPreempted)}}},
		{name: "preempt own key", setup: ab, c: preempt(a, ka, ka, pr.WriteExclusive), want: registered(3, reg(b, kb))},
		{name: "preempt holder", setup: with(abc, reserve(b, kb, pr.ExclusiveAccess)), c: preempt(a, ka, kb, pr.WriteExclusive),
			want:   holds(4, pr.WriteExclusive, a, reg(a, ka), reg(c, kc)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, registrationsPreempted), ua(c, reservationsReleased)}}},
		{name: "preempt holder same type", setup: with(abc, reserve(b, kb, pr.ExclusiveAccess)), c: preempt(a, ka, kb, pr.ExclusiveAccess),
			want:   holds(4, pr.ExclusiveAccess, a, reg(a, ka), reg(c, kc)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, registrationsPreempted)}}},
		{name: "preempt holder keeps the preemptor's registration of the same key",
			setup: []cmd{register(a, 0, kb), register(b, 0, kb), reserve(b, kb, pr.WriteExclusive)},
			c:     preempt(a, kb, kb, pr.WriteExclusive), want: holds(3, pr.WriteExclusive, a, reg(a, kb)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, registrationsPreempted)}}},
		{name: "holder preempts itself to change type", setup: with(abc, reserve(a, ka, pr.WriteExclusive)),
			c: preempt(a, ka, ka, pr.ExclusiveAccessRegistrantsOnly), want: holds(4, pr.ExclusiveAccessRegistrantsOnly, a, reg(a, ka), reg(b, kb), reg(c, kc)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, reservationsReleased), ua(c, reservationsReleased)}}},
		{name: "preempt non-holder under reservation", setup: with(abc, reserve(b, kb, pr.ExclusiveAccess)), c: preempt(a, ka, kc, pr.WriteExclusive),
			want: holds(4, pr.ExclusiveAccess, b, reg(a, ka), reg(b, kb)), effect: pr.Effect{Attention: []pr.Attention{ua(c, registrationsPreempted)}}},
		{name: "preempt zero key under reservation", setup: with(ab, reserve(b, kb, pr.ExclusiveAccess)), c: preempt(a, ka, 0, pr.WriteExclusive), err: illegalParam},
		{name: "preempt all registrants", setup: with(abc, reserve(b, kb, pr.WriteExclusiveAllRegistrants)), c: preempt(a, ka, 0, pr.ExclusiveAccess),
			want:   holds(4, pr.ExclusiveAccess, a, reg(a, ka)),
			effect: pr.Effect{Attention: []pr.Attention{ua(b, registrationsPreempted), ua(c, registrationsPreempted)}}},
		{name: "preempt one key of all registrants", setup: with(abc, reserve(b, kb, pr.WriteExclusiveAllRegistrants)), c: preempt(a, ka, kc, pr.WriteExclusive),
			want: holds(4, pr.WriteExclusiveAllRegistrants, b, reg(a, ka), reg(b, kb)), effect: pr.Effect{Attention: []pr.Attention{ua(c, registrationsPreempted)}}},
		{name: "preempt bad type", setup: with(ab, reserve(b, kb, pr.ExclusiveAccess)), c: preempt(a, ka, kb, 0x0F), err: illegalCDB},
		{name: "preempt and abort", setup: with(abc, reserve(b, kb, pr.ExclusiveAccess)), c: preemptAbort(a, ka, kb, pr.ExclusiveAccess),
			want:   holds(4, pr.ExclusiveAccess, a, reg(a, ka), reg(c, kc)),
			effect: pr.Effect{Abort: []pr.Nexus{b}, Attention: []pr.Attention{ua(b, registrationsPreempted)}}},
		{name: "preempt and abort all target ports", setup: []cmd{register(a, 0, ka), registerFlags(b, 0, kb, allTgPt)},
			c: preemptAbort(a, ka, kb, pr.ExclusiveAccess), want: registered(3, reg(a, ka)),
			effect: pr.Effect{Abort: []pr.Nexus{every(b)}, Attention: []pr.Attention{ua(every(b), registrationsPreempted)}}},
		{name: "preempt and abort own key aborts nothing", setup: ab, c: preemptAbort(a, ka, ka, pr.WriteExclusive), want: registered(3, reg(b, kb))},

		// RESERVE(6) and RELEASE(6), and their meeting with persistent
		// reservations.
		{name: "reserve6", c: reserve6(a), want: pr.State{Legacy: &a}},
		{name: "reserve6 again", setup: []cmd{reserve6(a)}, c: reserve6(a), want: pr.State{Legacy: &a}},
		{name: "reserve6 held by another", setup: []cmd{reserve6(a)}, c: reserve6(b), err: errConflict},
		{name: "reserve6 through another port", setup: []cmd{reserve6(a)}, c: reserve6(a2), err: errConflict},
		{name: "release6", setup: []cmd{reserve6(a)}, c: release6(a), want: pr.State{}},
		{name: "release6 by another does nothing", setup: []cmd{reserve6(a)}, c: release6(b), want: pr.State{Legacy: &a}},
		{name: "release6 of nothing", c: release6(b), want: pr.State{}},
		{name: "reserve6 while registered", setup: ab[:1], c: reserve6(a), err: errConflict},
		{name: "reserve6 while registered by another", setup: ab[:1], c: reserve6(b), err: errConflict},
		{name: "release6 while registered", setup: ab[:1], c: release6(b), err: errConflict},
		{name: "reserve6 third party", c: cmd{a, []byte{pr.OpReserve6, 0x10, 0, 0, 0, 0}, nil}, err: illegalCDB},
		{name: "reserve6 extent", c: cmd{a, []byte{pr.OpReserve6, 0x01, 0, 0, 0, 0}, nil}, err: illegalCDB},
		{name: "release6 short", c: cmd{a, []byte{pr.OpRelease6, 0}, nil}, err: illegalCDB},
		{name: "register while reserved6 by another", setup: []cmd{reserve6(b)}, c: register(a, 0, ka), err: errConflict},
		{name: "register while reserved6 by itself", setup: []cmd{reserve6(a)}, c: register(a, 0, ka), err: errConflict},

		// A logical unit reset: an SPC-2 reservation is released,
		// persistent ones stay, every I_T nexus hears of it and loses its
		// tasks, through every target port.
		{name: "logical unit reset releases reserve6", setup: []cmd{reserve6(a)}, c: cmd{b, pr.ResetCDB(), nil},
			want: pr.State{}, effect: resetEffect},
		{name: "logical unit reset keeps persistent reservations", setup: with(ab, reserve(a, ka, pr.ExclusiveAccess)),
			c: cmd{b, pr.ResetCDB(), nil}, want: holds(2, pr.ExclusiveAccess, a, reg(a, ka), reg(b, kb)),
			effect: resetEffect},
		// A target reset, LUN by LUN: the same, with no unit attention.
		{name: "target reset releases reserve6", setup: []cmd{reserve6(a)}, c: cmd{b, pr.TargetResetCDB(), nil},
			want: pr.State{}, effect: pr.Effect{Abort: []pr.Nexus{pr.EveryNexus}}},
		{name: "target reset keeps persistent reservations", setup: with(ab, reserve(a, ka, pr.ExclusiveAccess)),
			c: cmd{b, pr.TargetResetCDB(), nil}, want: holds(2, pr.ExclusiveAccess, a, reg(a, ka), reg(b, kb)),
			effect: pr.Effect{Abort: []pr.Nexus{pr.EveryNexus}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := apply(t, pr.State{}, tt.setup...)
			next, e, err := applyChecked(t, s, tt.c)
			checkErr(t, err, tt.err)
			if err != nil {
				return
			}
			if got, want := normal(next), normal(tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("state\n got %+v\nwant %+v", got, want)
			}
			if got, want := normalEffect(e), normalEffect(tt.effect); !reflect.DeepEqual(got, want) {
				t.Errorf("effect\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// normal makes empty lists nil, so that states compare by content.
func normal(s pr.State) pr.State {
	if len(s.Registrations) == 0 {
		s.Registrations = nil
	}
	return s
}

// normalEffect makes empty lists nil.
func normalEffect(e pr.Effect) pr.Effect {
	if len(e.Abort) == 0 {
		e.Abort = nil
	}
	if len(e.Attention) == 0 {
		e.Attention = nil
	}
	return e
}

// TestApplyAllTypes reserves and releases every type, as libiscsi's
// ProutReserve.Simple does, keeping PRgeneration (RESERVE and RELEASE do
// not change it).
func TestApplyAllTypes(t *testing.T) {
	types := []pr.Type{pr.WriteExclusive, pr.ExclusiveAccess, pr.WriteExclusiveRegistrantsOnly,
		pr.ExclusiveAccessRegistrantsOnly, pr.WriteExclusiveAllRegistrants, pr.ExclusiveAccessAllRegistrants}
	s := apply(t, pr.State{}, registerIgnore(a, ka))
	for _, typ := range types {
		s = apply(t, s, reserve(a, ka, typ))
		if !s.Reserved || s.Type != typ || !s.IsHolder(a) || s.IsHolder(b) {
			t.Fatalf("type %#x: state %+v", typ, s)
		}
		s = apply(t, s, release(a, ka, typ))
		if s.Reserved || s.Generation != 1 {
			t.Fatalf("type %#x: after release %+v", typ, s)
		}
	}
}

// resetEffect is the Effect of a logical unit reset.
var resetEffect = pr.Effect{
	Attention: []pr.Attention{ua(pr.EveryNexus, sense.BusDeviceResetOccurred)},
	Abort:     []pr.Nexus{pr.EveryNexus},
}
