package scheduler

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// PoolCandidate is a member of a pool as the choice sees it.
type PoolCandidate struct {
	Cartridge *ferryv1.Cartridge
	// Busy says why another job keeps the cartridge from this one ("" when
	// it is free): it holds, reads or writes it, or a DMA loaded it.
	Busy string
}

// ChoosePoolCartridge picks the cartridge a copy of about need bytes (0:
// unknown) writes to from the members of a pool, as backup applications
// do: first an appendable cartridge with room for the whole copy (the one
// with least room that still fits, so that cartridges fill up before new
// ones are opened), then a scratch cartridge (lowest barcode), then the
// appendable one with most room (a copy that spans continues on another
// member when it reaches early warning). Full, offline and busy members
// are skipped. When none is left, wait says why, naming the pool as
// "pool NAME has no scratch cartridge" and counting what is not usable.
// Pure: same members, same choice.
func ChoosePoolCartridge(pool string, need uint64, members []PoolCandidate) (barcode, wait string) {
	var fits, scratch, rest []*ferryv1.Cartridge
	counts := make(map[string]int)
	for _, m := range members {
		c := m.Cartridge
		use := fsm.UseOf(c)
		switch {
		case use != fsm.Scratch && use != fsm.Appendable:
			counts[use.String()]++
		case m.Busy != "":
			counts["in use"]++
		case use == fsm.Scratch:
			scratch = append(scratch, c)
		case need > 0 && fsm.RoomLeft(c) >= need:
			fits = append(fits, c)
		default:
			rest = append(rest, c)
		}
	}
	byRoom := func(a, b *ferryv1.Cartridge) int {
		return cmp.Or(cmp.Compare(fsm.RoomLeft(a), fsm.RoomLeft(b)), strings.Compare(a.GetBarcode(), b.GetBarcode()))
	}
	byBarcode := func(a, b *ferryv1.Cartridge) int { return strings.Compare(a.GetBarcode(), b.GetBarcode()) }
	switch {
	case len(fits) > 0:
		return slices.MinFunc(fits, byRoom).GetBarcode(), ""
	case need == 0 && len(rest) > 0:
		// Size unknown: fill what is open before opening a new one.
		return slices.MinFunc(rest, byRoom).GetBarcode(), ""
	case len(scratch) > 0:
		return slices.MinFunc(scratch, byBarcode).GetBarcode(), ""
	case len(rest) > 0:
		return slices.MaxFunc(rest, byRoom).GetBarcode(), ""
	}
	wait = fmt.Sprintf("pool %s has no scratch cartridge", pool)
	if len(counts) == 0 {
		return "", wait + " (no member is labelled: ferry tape label ... --pool " + pool + ")"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return "", wait + " (" + strings.Join(parts, ", ") + ")"
}

// bindPool chooses the cartridge of its pool a queued copy to a pool
// writes to and adds it to the job's view as a cartridge it needs and
// writes, so that the rest of placement treats it like a named one; the
// state machine binds the spec to it when it applies the placement.
// wait is set when no member can be used now.
func (p *planner) bindPool(jv JobView) (JobView, string) {
	id, pool := jv.Job.GetId(), jv.Pool
	var members []PoolCandidate
	for _, b := range slices.Sorted(maps.Keys(p.cartridges)) {
		c := p.cartridges[b]
		if c == nil || c.GetPool() != pool || slices.Contains(jv.Cartridges, b) {
			continue // a copy never writes the cartridge it reads
		}
		m := PoolCandidate{Cartridge: c}
		for _, users := range []map[string]jobSet{p.holders, p.readers, p.writers} {
			if other, ok := users[b].other(id); ok && m.Busy == "" {
				m.Busy = "used by " + p.holder(other)
			}
		}
		if why := fsm.DescribeNdmpLoad(c); why != "" && m.Busy == "" {
			m.Busy = why
		}
		members = append(members, m)
	}
	b, wait := ChoosePoolCartridge(pool, jv.Bytes, members)
	if wait != "" {
		return jv, wait
	}
	jv.Cartridges = append(slices.Clone(jv.Cartridges), b)
	jv.Writes = append(slices.Clone(jv.Writes), b)
	return jv, ""
}
