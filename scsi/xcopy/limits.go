package xcopy

import "slices"

// Limits are what a copy manager accepts in a parameter list. They are
// advertised verbatim by RECEIVE COPY RESULTS (OPERATING PARAMETERS), so
// they must be values the mover really honours.
type Limits struct {
	// MaxTargetDescriptors is the MAXIMUM CSCD DESCRIPTOR COUNT.
	MaxTargetDescriptors uint16
	// MaxSegmentDescriptors is the MAXIMUM SEGMENT DESCRIPTOR COUNT.
	MaxSegmentDescriptors uint16
	// MaxDescriptorListLength bounds the CSCD and segment descriptor lists
	// together, in bytes.
	MaxDescriptorListLength uint32
	// MaxSegmentLength bounds the bytes one segment may move.
	MaxSegmentLength uint32
	// MaxInlineData bounds the parameter list's inline data, in bytes.
	MaxInlineData uint32
	// HeldDataLimit is how much data the copy manager holds for RECEIVE
	// COPY RESULTS (RECEIVE DATA); zero: none, as no held-data segment type
	// is supported.
	HeldDataLimit uint32
	// MaxStreamTransferSize bounds one read or write of a stream device, in
	// bytes.
	MaxStreamTransferSize uint32
	// TotalConcurrentCopies is how many EXTENDED COPY commands the copy
	// manager runs at once.
	TotalConcurrentCopies uint16
	// MaxConcurrentCopies is how many of them may hold a list identifier
	// at once (a one-byte field on the wire).
	MaxConcurrentCopies uint8
	// DataSegmentGranularity, InlineDataGranularity and HeldDataGranularity
	// are log2 of the byte multiples the copy manager requires; zero means
	// any length, which is what the mover supports.
	DataSegmentGranularity, InlineDataGranularity, HeldDataGranularity uint8
	// SegmentTypes are the accepted segment types; nil accepts every type
	// SegmentTypes() lists. A LUN whose copy manager should not offer tape
	// operations lists only the block ones.
	SegmentTypes []SegmentType
}

// DefaultLimits are the limits of Ferry's mover: 32 CSCDs, 1024 segments,
// a 1 MiB descriptor list, 1 GiB segments (the mover streams and
// checkpoints, so the bound only keeps one segment's run time reasonable),
// 64 KiB of inline data (tape labels and headers), 8 MiB stream transfers
// (the largest block LTO drives accept), 16 concurrent copies.
func DefaultLimits() Limits {
	return Limits{
		MaxTargetDescriptors:    32,
		MaxSegmentDescriptors:   1024,
		MaxDescriptorListLength: 1 << 20,
		MaxSegmentLength:        1 << 30,
		MaxInlineData:           64 << 10,
		MaxStreamTransferSize:   8 << 20,
		TotalConcurrentCopies:   16,
		MaxConcurrentCopies:     16,
	}
}

// accepts reports whether the limits allow segment type t.
func (l Limits) accepts(t SegmentType) bool {
	if _, ok := layoutOf(t); !ok {
		return false
	}
	return l.SegmentTypes == nil || slices.Contains(l.SegmentTypes, t)
}

// OperatingParameters is the RECEIVE COPY RESULTS (OPERATING PARAMETERS)
// data advertising these limits, with SNLID set (LIST ID USAGE 11b is
// accepted) and the implemented descriptor type codes in ascending order,
// ending with the identification CSCD descriptor E4h.
func (l Limits) OperatingParameters() OperatingParameters {
	var codes []byte
	for _, t := range SegmentTypes() {
		if l.accepts(t) {
			codes = append(codes, byte(t))
		}
	}
	codes = append(codes, identCSCD)
	return OperatingParameters{
		SNLID:                   true,
		MaxTargetDescriptors:    l.MaxTargetDescriptors,
		MaxSegmentDescriptors:   l.MaxSegmentDescriptors,
		MaxDescriptorListLength: l.MaxDescriptorListLength,
		MaxSegmentLength:        l.MaxSegmentLength,
		MaxInlineData:           l.MaxInlineData,
		HeldDataLimit:           l.HeldDataLimit,
		MaxStreamTransferSize:   l.MaxStreamTransferSize,
		TotalConcurrentCopies:   l.TotalConcurrentCopies,
		MaxConcurrentCopies:     l.MaxConcurrentCopies,
		DataSegmentGranularity:  l.DataSegmentGranularity,
		InlineDataGranularity:   l.InlineDataGranularity,
		HeldDataGranularity:     l.HeldDataGranularity,
		Implemented:             codes,
	}
}
