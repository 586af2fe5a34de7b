package iscsi

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ferry-san/ferry/iscsi/pdu"
)

// params are a session's negotiated operational values (RFC 7143 13).
type params struct {
	HeaderDigest, DataDigest bool
	// SendDataSegment is the initiator's MaxRecvDataSegmentLength: the
	// largest data segment the target may send.
	SendDataSegment                     uint32
	FirstBurst, MaxBurst                uint32
	InitialR2T, ImmediateData           bool
	MaxOutstandingR2T                   uint32
	DefaultTime2Wait                    uint32
	DefaultTime2Retain                  uint32
	MaxConnections                      uint32
	ErrorRecoveryLevel                  uint32
	DataPDUInOrder, DataSequenceInOrder bool
}

// defaultParams are RFC 7143's defaults, in force for keys never negotiated.
func defaultParams() params {
	return params{SendDataSegment: 8192, FirstBurst: 65536, MaxBurst: 262144, InitialR2T: true,
		ImmediateData: true, MaxOutstandingR2T: 1, DefaultTime2Wait: 2, DefaultTime2Retain: 20,
		MaxConnections: 1, DataPDUInOrder: true, DataSequenceInOrder: true}
}

// Special values of a negotiation answer (RFC 7143 6.2).
const (
	valNotUnderstood = "NotUnderstood"
	valReject        = "Reject"
	valIrrelevant    = "Irrelevant"
)

// negotiator answers the operational keys of one login.
type negotiator struct {
	cfg       *Config
	discovery bool
	p         params
	// declaredMRDSL is set once the target has declared its own
	// MaxRecvDataSegmentLength, which it must do exactly once.
	declaredMRDSL bool
}

// normalOnly are the keys that are irrelevant in a discovery session.
var normalOnly = map[string]bool{
	"MaxConnections": true, "InitialR2T": true, "ImmediateData": true, "MaxBurstLength": true,
	"FirstBurstLength": true, "MaxOutstandingR2T": true, "DataPDUInOrder": true,
	"DataSequenceInOrder": true,
}

// answer returns the target's reply to one offered key, "" when the key
// needs no reply (declarations the target takes note of).
func (n *negotiator) answer(key, val string) string {
	if n.discovery && normalOnly[key] {
		return valIrrelevant
	}
	switch key {
	case "HeaderDigest", "DataDigest":
		return n.digest(key, val)
	case "MaxRecvDataSegmentLength":
		v, ok := number(val, 512, 1<<24-1)
		if !ok {
			return valReject
		}
		n.p.SendDataSegment = v
		return ""
	case "MaxConnections":
		return n.min(val, 1, 65535, 1, &n.p.MaxConnections)
	case "ErrorRecoveryLevel":
		return n.min(val, 0, 2, 0, &n.p.ErrorRecoveryLevel)
	case "FirstBurstLength":
		return n.min(val, 512, 1<<24-1, n.cfg.FirstBurstLength, &n.p.FirstBurst)
	case "MaxBurstLength":
		return n.min(val, 512, 1<<24-1, n.cfg.MaxBurstLength, &n.p.MaxBurst)
	case "MaxOutstandingR2T":
		return n.min(val, 1, 65535, n.cfg.MaxOutstandingR2T, &n.p.MaxOutstandingR2T)
	case "DefaultTime2Retain":
		return n.min(val, 0, 3600, 0, &n.p.DefaultTime2Retain)
	case "DefaultTime2Wait":
		v, ok := number(val, 0, 3600)
		if !ok {
			return valReject
		}
		n.p.DefaultTime2Wait = max(v, 2)
		return strconv.FormatUint(uint64(n.p.DefaultTime2Wait), 10)
	case "InitialR2T":
		// OR: the target is content either way, so the result is the offer.
		return n.boolean(val, &n.p.InitialR2T, func(v bool) bool { return v })
	case "ImmediateData":
		return n.boolean(val, &n.p.ImmediateData, func(v bool) bool { return v })
	case "DataPDUInOrder":
		// The target reassembles only in-order data: OR with Yes.
		return n.boolean(val, &n.p.DataPDUInOrder, func(bool) bool { return true })
	case "DataSequenceInOrder":
		return n.boolean(val, &n.p.DataSequenceInOrder, func(bool) bool { return true })
	case "IFMarker", "OFMarker":
		var off bool
		return n.boolean(val, &off, func(bool) bool { return false })
	case "IFMarkInt", "OFMarkInt":
		return valReject
	}
	// Vendor keys (X-, X#) and keys of later RFCs alike.
	return valNotUnderstood
}

func (n *negotiator) digest(key, val string) string {
	for _, v := range strings.Split(val, ",") {
		switch v {
		case "None", "CRC32C":
			on := v == "CRC32C"
			if key == "HeaderDigest" {
				n.p.HeaderDigest = on
			} else {
				n.p.DataDigest = on
			}
			return v
		}
	}
	return valReject
}

// min negotiates a numerical key whose result is the smaller of the offer
// and the target's limit.
func (n *negotiator) min(val string, lo, hi, limit uint32, out *uint32) string {
	v, ok := number(val, lo, hi)
	if !ok {
		return valReject
	}
	*out = min(v, limit)
	return strconv.FormatUint(uint64(*out), 10)
}

// boolean negotiates a Yes/No key; result maps the offer to the outcome.
func (n *negotiator) boolean(val string, out *bool, result func(bool) bool) string {
	var v bool
	switch val {
	case "Yes":
		v = true
	case "No":
	default:
		return valReject
	}
	*out = result(v)
	return yesNo(*out)
}

// declarations are what the target states without being asked, once.
func (n *negotiator) declarations() []pdu.KV {
	if n.declaredMRDSL {
		return nil
	}
	n.declaredMRDSL = true
	return []pdu.KV{{Key: "MaxRecvDataSegmentLength", Value: strconv.FormatUint(uint64(n.cfg.MaxRecvDataSegmentLength), 10)}}
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// number parses a decimal or 0x-hex numeric value within lo..hi.
func number(s string, lo, hi uint32) (uint32, bool) {
	var v uint64
	var err error
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		v, err = strconv.ParseUint(h, 16, 32)
	} else {
		v, err = strconv.ParseUint(s, 10, 32)
	}
	if err != nil || v < uint64(lo) || v > uint64(hi) {
		return 0, false
	}
	return uint32(v), true
}

// keyError is a login failure with its RFC 7143 status.
type keyError struct {
	class, detail byte
	msg           string
}

func (e *keyError) Error() string {
	return fmt.Sprintf("iscsi: login failed (status %02x%02x): %s", e.class, e.detail, e.msg)
}

func initiatorError(detail byte, format string, a ...any) *keyError {
	return &keyError{class: pdu.StatusInitiatorError, detail: detail, msg: fmt.Sprintf(format, a...)}
}
