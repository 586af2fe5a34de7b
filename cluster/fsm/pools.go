package fsm

import (
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/library"
	tapestore "github.com/ferry-san/ferry/storage/tape"
)

// Pools (pools.go): a pool is a named set of barcodes of one library. A copy
// may name a pool as its destination (Endpoint.pool) instead of a
// cartridge: the scheduler picks a member (scheduler/pool.go), and the
// PlaceJobOp that loads it binds the job's destination to it (bindPool), so
// that from then on the spec names the cartridge like any other copy's.
// Membership lives in the pool's barcode list only; a cartridge's pool
// field is derived from it when the cartridge is read.

// MaxPoolBarcodes bounds a pool's members, so that a mistyped range cannot
// make one entry of a million barcodes.
const MaxPoolBarcodes = 100_000

// CartridgeUse is what a pool member can take: see Pool's counts.
type CartridgeUse int

const (
	// Unlabelled: no cartridge with the barcode is registered.
	Unlabelled CartridgeUse = iota
	// Offline: not in a storage slot or drive of its library.
	Offline
	// Full: the data reached the early-warning zone.
	Full
	// Appendable: data files, and room before the early-warning zone.
	Appendable
	// Scratch: nothing but its label.
	Scratch
)

func (u CartridgeUse) String() string {
	switch u {
	case Offline:
		return "offline"
	case Full:
		return "full"
	case Appendable:
		return "appendable"
	case Scratch:
		return "scratch"
	}
	return "unlabelled"
}

// UseOf classifies a registered cartridge (nil: Unlabelled). It is the one
// rule both pool listings and the scheduler's choice follow.
func UseOf(c *ferryv1.Cartridge) CartridgeUse {
	switch k := c.GetLocation().GetKind(); {
	case c == nil:
		return Unlabelled
	case k != ferryv1.ElementKind_ELEMENT_KIND_SLOT && k != ferryv1.ElementKind_ELEMENT_KIND_DRIVE:
		return Offline
	case RoomLeft(c) == 0:
		return Full
	case len(c.GetFiles()) > 0:
		return Appendable
	}
	return Scratch
}

// RoomLeft is how many more image bytes a cartridge takes before its
// early-warning zone, as its catalog's used bytes say; 0 when it is in the
// zone (full). A cartridge of capacity 0 (unlimited) has all the room
// there is.
func RoomLeft(c *ferryv1.Cartridge) uint64 {
	ew := EarlyWarningAt(c)
	if c.GetUsedBytes() >= ew {
		return 0
	}
	return ew - c.GetUsedBytes()
}

// EarlyWarningAt is where a cartridge's early-warning zone begins, in
// image bytes (the most there is for a cartridge of unlimited capacity).
// A copy that reached it left the cartridge full.
func EarlyWarningAt(c *ferryv1.Cartridge) uint64 {
	capacity := c.GetCapacityBytes()
	if capacity == 0 {
		return ^uint64(0)
	}
	return capacity - uint64(tapestore.DefaultEarlyWarning(int64(capacity)))
}

// createPool defines a pool: see CreatePoolOp.
func (s *state) createPool(cmd *ferryv1.Command, op *ferryv1.CreatePoolOp) (*ferryv1.Pool, error) {
	var v violations
	v.commandTime(cmd)
	in := op.GetPool()
	if msg := checkDeviceName(in.GetName()); msg != "" {
		v.add("pool.name", msg)
	}
	if in.GetLibrary() == "" {
		v.add("pool.library", "required")
	}
	if n := len(in.GetBarcodes()); n > MaxPoolBarcodes {
		v.add("pool.barcodes", fmt.Sprintf("%d barcodes, more than %d", n, MaxPoolBarcodes))
	}
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	if _, dup := s.pools[in.GetName()]; dup {
		return nil, fmt.Errorf("pool %q: %w", in.GetName(), ErrAlreadyExists)
	}
	if _, ok := s.libraries[in.GetLibrary()]; !ok {
		return nil, fmt.Errorf("pool %q: library %q: %w", in.GetName(), in.GetLibrary(), ErrNotFound)
	}
	seen := make(map[string]bool, len(in.GetBarcodes()))
	for i, b := range in.GetBarcodes() {
		field := fmt.Sprintf("pool.barcodes[%d]", i)
		if err := library.ValidBarcode(b); err != nil {
			v.add(field, err.Error())
			continue
		}
		if seen[b] {
			v.add(field, fmt.Sprintf("%s is listed twice", b))
		}
		seen[b] = true
		if msg := s.canJoin(in.GetLibrary(), b); msg != "" {
			v.add(field, msg)
		}
		if len(v) >= 16 {
			break // enough to fix a request by
		}
	}
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	p := &ferryv1.Pool{Name: in.GetName(), Library: in.GetLibrary(), Barcodes: slices.Sorted(maps.Keys(seen))}
	s.pools[p.GetName()] = p
	for _, b := range p.GetBarcodes() {
		s.poolOf[b] = p.GetName()
	}
	return p, nil
}

// canJoin says why the barcode may not join a pool of the library, or "".
func (s *state) canJoin(lib, barcode string) string {
	if other, ok := s.poolOf[barcode]; ok {
		return fmt.Sprintf("%s already belongs to pool %s", barcode, other)
	}
	if c, ok := s.cartridges[barcode]; ok && c.GetLibrary() != lib {
		return fmt.Sprintf("cartridge %s is in library %s, not %s", barcode, c.GetLibrary(), lib)
	}
	return ""
}

// joinPool checks the pool a new cartridge asks to join (AddCartridgeOp's
// cartridge.pool), or the pool that already lists its barcode, and returns
// the pool it will belong to, nil for none. Nothing changes until
// addPoolMember.
func (s *state) joinPool(c *ferryv1.Cartridge) (*ferryv1.Pool, error) {
	b, want := c.GetBarcode(), c.GetPool()
	listed, isListed := s.poolOf[b]
	switch {
	case want == "" && !isListed:
		return nil, nil
	case want == "":
		want = listed
	case isListed && listed != want:
		return nil, &ValidationError{Violations: []FieldViolation{{Field: "cartridge.pool", Description: fmt.Sprintf("%s already belongs to pool %s", b, listed)}}}
	}
	p, ok := s.pools[want]
	if !ok {
		return nil, &ValidationError{Violations: []FieldViolation{{Field: "cartridge.pool", Description: fmt.Sprintf("no pool named %q", want)}}}
	}
	if p.GetLibrary() != c.GetLibrary() {
		return nil, &ValidationError{Violations: []FieldViolation{{Field: "cartridge.pool",
			Description: fmt.Sprintf("pool %s holds cartridges of library %s, not %s", want, p.GetLibrary(), c.GetLibrary())}}}
	}
	return p, nil
}

// addPoolMember lists the barcode in the pool, keeping the list sorted.
func (s *state) addPoolMember(p *ferryv1.Pool, barcode string) {
	if i, found := slices.BinarySearch(p.GetBarcodes(), barcode); !found {
		p.Barcodes = slices.Insert(p.Barcodes, i, barcode)
	}
	s.poolOf[barcode] = p.GetName()
}

// poolCopy returns a copy of the pool with its counts filled in.
func (s *state) poolCopy(p *ferryv1.Pool) *ferryv1.Pool {
	out := proto.Clone(p).(*ferryv1.Pool)
	_, libOK := s.libraries[p.GetLibrary()]
	for _, b := range p.GetBarcodes() {
		c := s.cartridges[b]
		use := UseOf(c)
		if c != nil && !libOK {
			use = Offline // its library is gone
		}
		switch use {
		case Unlabelled:
			out.Unlabelled++
		case Offline:
			out.Offline++
		case Full:
			out.Full++
		case Appendable:
			out.Appendable++
		case Scratch:
			out.Scratch++
		}
	}
	return out
}

// Pools returns copies of every pool, sorted by name, with their counts.
func (f *FSM) Pools() []*ferryv1.Pool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*ferryv1.Pool, 0, len(f.st.pools))
	for _, name := range slices.Sorted(maps.Keys(f.st.pools)) {
		out = append(out, f.st.poolCopy(f.st.pools[name]))
	}
	return out
}

// Pool returns a copy of one pool with its counts.
func (f *FSM) Pool(name string) (*ferryv1.Pool, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	p, ok := f.st.pools[name]
	if !ok {
		return nil, false
	}
	return f.st.poolCopy(p), true
}

// DestinationPool returns the pool a copy's destination names while it is
// not yet bound to a cartridge (queued), or "".
func DestinationPool(spec *ferryv1.JobSpec) string {
	dst := spec.GetDestination()
	if dst.GetPool() == "" || dst.GetDevice().GetRef() != nil {
		return ""
	}
	return dst.GetPool()
}

// bindPool returns a queued job's spec with its pool destination bound to
// the pool's cartridge the placement loads (the one assignment of a member
// of the pool), checked again as at submit, now against the cartridge;
// the caller installs it once the placement holds. nil: the destination is
// not an unbound pool. It changes nothing.
func (s *state) bindPool(j *ferryv1.Job, tapes []*ferryv1.TapeAssignment) (*ferryv1.JobSpec, error) {
	pool := DestinationPool(j.GetSpec())
	if pool == "" {
		return nil, nil
	}
	var chosen []string
	for _, t := range tapes {
		if s.poolOf[t.GetBarcode()] == pool {
			chosen = append(chosen, t.GetBarcode())
		}
	}
	if len(chosen) != 1 {
		return nil, fmt.Errorf("%w: the placement of a copy to pool %s must load exactly one cartridge of the pool, not %d", ErrInvalid, pool, len(chosen))
	}
	c := s.cartridges[chosen[0]]
	switch use := UseOf(c); use {
	case Scratch, Appendable:
	default:
		return nil, busy("cartridge %s of pool %s is %s", c.GetBarcode(), pool, use)
	}
	bound := proto.Clone(j.GetSpec()).(*ferryv1.JobSpec)
	bound.Destination.Device = &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: c.GetBarcode()}}
	if _, verr := s.resolveAccess(bound); verr != nil {
		return nil, verr
	}
	return bound, nil
}

// restorePools rebuilds the pools and the barcode index from a snapshot.
func (st *state) restorePools(snap *ferryv1.StateSnapshot) error {
	for _, p := range snap.GetPools() {
		name := p.GetName()
		if _, dup := st.pools[name]; dup || name == "" {
			return fmt.Errorf("%w: pool name %q is empty or appears twice", ErrBadSnapshot, name)
		}
		for _, b := range p.GetBarcodes() {
			if other, dup := st.poolOf[b]; dup {
				return fmt.Errorf("%w: cartridge %s belongs to pools %s and %s", ErrBadSnapshot, b, other, name)
			}
			st.poolOf[b] = name
		}
		st.pools[name] = p
	}
	return nil
}
