package fsm

import (
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// Limits on what a job may carry. They keep log entries and snapshots small
// and device names safe to show and to match against the registry.
const (
	maxJobNameChars      = 256
	maxDeviceNameChars   = 128
	maxXcopyListBytes    = 1 << 20
	maxIdempotencyKeyLen = 256
	maxJobIDLen          = 128
	maxCancelReasonLen   = 1024
	// maxSpecBytes bounds a spec's encoding: the largest parameter list
	// and room for the rest.
	maxSpecBytes = maxXcopyListBytes + 64<<10
)

// maxSpecSegments is the most explicit segments a spec may carry: the
// MAXIMUM SEGMENT DESCRIPTOR COUNT EXTENDED COPY advertises in OPERATING
// PARAMETERS, so both front ends accept the same copies. The mover's
// checkpoint holds one result per finished segment: it must fit in
// maxCheckpointBytes (a test checks the largest spec's does).
func maxSpecSegments() int { return int(xcopy.DefaultLimits().MaxSegmentDescriptors) }

// ValidateSpec returns every rule the spec breaks, in field order, or nil
// when it is valid. The gRPC server calls it before proposing so that clients
// get all violations at once; Apply calls it again because a log entry must
// not be trusted to have come through the server.
func ValidateSpec(spec *ferryv1.JobSpec) []FieldViolation {
	var v violations
	if spec == nil {
		v.add("spec", "required")
		return v
	}
	if n := proto.Size(spec); n > maxSpecBytes {
		v.add("spec", fmt.Sprintf("%d bytes encoded: longer than the limit of %d bytes", n, maxSpecBytes))
	}
	if utf8.RuneCountInString(spec.GetName()) > maxJobNameChars {
		v.add("spec.name", fmt.Sprintf("longer than %d characters", maxJobNameChars))
	}

	if spec.GetNdmp() != nil {
		// Only an NDMP server's OpenNdmpSessionOp creates such a job.
		v.add("spec.ndmp", "an NDMP session is opened by a DMA through a node's NDMP server, not submitted")
		return v
	}
	hasEndpoints := spec.GetSource() != nil || spec.GetDestination() != nil
	hasList := len(spec.GetXcopyParameterList()) > 0
	switch {
	case hasEndpoints && hasList:
		v.add("spec.xcopy_parameter_list", "set either source and destination or xcopy_parameter_list, not both")
	case !hasEndpoints && !hasList:
		v.add("spec", "set source and destination, or xcopy_parameter_list")
	case hasEndpoints:
		v.endpoint("spec.source", spec.GetSource())
		v.endpoint("spec.destination", spec.GetDestination())
		if spec.GetSource().GetPool() != "" {
			v.add("spec.source.pool", "a pool is a destination only: a restore names the cartridge, or the job (ferry copy job:ID ...)")
		}
	case hasList:
		if len(spec.GetXcopyParameterList()) > maxXcopyListBytes {
			v.add("spec.xcopy_parameter_list", fmt.Sprintf("longer than %d bytes", maxXcopyListBytes))
		}
		// The parameter list carries its own segment descriptors; a second,
		// disagreeing description of the copy would be ambiguous.
		if len(spec.GetSegments()) > 0 {
			v.add("spec.segments", "must be empty with xcopy_parameter_list, which carries its own segment descriptors")
		}
	}

	if n := len(spec.GetSegments()); n > maxSpecSegments() {
		// One violation, not one per segment: the count is what is wrong.
		v.add("spec.segments", fmt.Sprintf("%d segments: more than the limit of %d (EXTENDED COPY's maximum segment descriptor count)", n, maxSpecSegments()))
		return v
	}
	for i, s := range spec.GetSegments() {
		field := fmt.Sprintf("spec.segments[%d]", i)
		if s == nil {
			v.add(field, "required")
			continue
		}
		if s.GetLength() == 0 {
			v.add(field+".length", "must be greater than 0")
			continue
		}
		// A range that wraps around 2^64 cannot address any device.
		if s.GetSourceOffset() > math.MaxUint64-s.GetLength() {
			v.add(field+".source_offset", "offset plus length overflows")
		}
		if s.GetDestinationOffset() > math.MaxUint64-s.GetLength() {
			v.add(field+".destination_offset", "offset plus length overflows")
		}
	}
	return v
}

// ValidateEndpoint returns every rule one endpoint breaks, with field paths
// under field (e.g. "endpoint"), or nil when it is valid. It applies the
// rules ValidateSpec applies to a spec's source and destination.
func ValidateEndpoint(field string, e *ferryv1.Endpoint) []FieldViolation {
	var v violations
	v.endpoint(field, e)
	return v
}

// ValidateIdempotencyKey checks a submit's idempotency key; the empty key
// (no idempotency) is valid.
func ValidateIdempotencyKey(key string) []FieldViolation {
	if len(key) > maxIdempotencyKeyLen {
		return []FieldViolation{{Field: "idempotency_key", Description: fmt.Sprintf("longer than %d bytes", maxIdempotencyKeyLen)}}
	}
	return nil
}

type violations []FieldViolation

func (v *violations) add(field, description string) {
	*v = append(*v, FieldViolation{Field: field, Description: description})
}

func (v *violations) endpoint(field string, e *ferryv1.Endpoint) {
	if e == nil {
		v.add(field, "required")
		return
	}
	kind := e.GetKind()
	switch kind {
	case ferryv1.DeviceKind_DEVICE_KIND_DISK:
		if e.TapeFile != nil {
			v.add(field+".tape_file", "must not be set on a disk endpoint")
		}
	case ferryv1.DeviceKind_DEVICE_KIND_TAPE:
		if e.GetLba() != 0 {
			v.add(field+".lba", "must not be set on a tape endpoint")
		}
		if e.GetBlocks() != 0 {
			v.add(field+".blocks", "must not be set on a tape endpoint")
		}
	case ferryv1.DeviceKind_DEVICE_KIND_UNSPECIFIED:
		v.add(field+".kind", "required: DEVICE_KIND_DISK or DEVICE_KIND_TAPE")
	default:
		v.add(field+".kind", fmt.Sprintf("unknown device kind %d", int32(kind)))
	}
	if e.GetPool() != "" {
		v.pool(field, e)
		if e.GetDevice().GetRef() == nil {
			return // the scheduler picks the cartridge
		}
	}
	v.deviceRef(field+".device", e.GetDevice())
}

// pool checks an endpoint naming a pool: a tape, whose new file goes at
// end of data of whichever cartridge is chosen.
func (v *violations) pool(field string, e *ferryv1.Endpoint) {
	if msg := checkDeviceName(e.GetPool()); msg != "" {
		v.add(field+".pool", msg)
	}
	if e.GetKind() != ferryv1.DeviceKind_DEVICE_KIND_TAPE {
		v.add(field+".pool", "a pool holds tapes: the endpoint's kind must be DEVICE_KIND_TAPE")
	}
	if e.TapeFile != nil {
		v.add(field+".tape_file", "must not be set with a pool: the copy appends a new file to the cartridge chosen")
	}
}

func (v *violations) deviceRef(field string, d *ferryv1.DeviceRef) {
	switch ref := d.GetRef().(type) {
	case *ferryv1.DeviceRef_Name:
		if msg := checkDeviceName(ref.Name); msg != "" {
			v.add(field+".name", msg)
		}
	case *ferryv1.DeviceRef_Naa:
		if !isNAA(ref.Naa) {
			v.add(field+".naa", "must be 16 or 32 hexadecimal digits")
		}
	default:
		v.add(field, "required: set name or naa")
	}
}

// checkDeviceName returns why name is not a valid registry name, or "".
// The alphabet leaves out "/" and spaces so a name can never be mistaken
// for, or smuggled into, a path.
func checkDeviceName(name string) string {
	if name == "" {
		return "must not be empty"
	}
	if len(name) > maxDeviceNameChars {
		return fmt.Sprintf("longer than %d characters", maxDeviceNameChars)
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return "may contain only letters, digits and . _ : -"
		}
	}
	return ""
}

func isNameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '.', c == '_', c == ':', c == '-':
		return true
	}
	return false
}

// isNAA reports whether s is an NAA designator in hex: 8 bytes (NAA types 2,
// 3 and 5) or 16 bytes (type 6).
func isNAA(s string) bool {
	if len(s) != 16 && len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
