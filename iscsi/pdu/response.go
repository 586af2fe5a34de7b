package pdu

// The PDUs a target sends (RFC 7143 chapter 11). StatSN, ExpCmdSN and
// MaxCmdSN are in every one of them at bytes 24-35; a connection usually
// overwrites them with Header.SetStatSN when it sends.

// SN is the sequence-number triple of target PDUs.
type SN struct {
	StatSN, ExpCmdSN, MaxCmdSN uint32
}

func (s SN) marshal(h *Header) { h.SetStatSN(s.StatSN, s.ExpCmdSN, s.MaxCmdSN) }

func snOf(h *Header) SN { return SN{h.u32(24), h.u32(28), h.u32(32)} }

// NOPIn answers a NOP-Out or pings the initiator (11.19).
type NOPIn struct {
	LUN      uint64
	ITT, TTT uint32
	SN
}

// Marshal implements Message.
func (m *NOPIn) Marshal(h *Header) {
	h.setOpcode(OpNOPIn, false)
	h[1] = 0x80
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	m.SN.marshal(h)
}

// Unmarshal implements Message.
func (m *NOPIn) Unmarshal(h *Header) {
	*m = NOPIn{LUN: h.u64(8), ITT: h.u32(16), TTT: h.u32(20), SN: snOf(h)}
}

// iSCSI service responses in a SCSI Response (11.4.3).
const (
	ResponseCompleted   byte = 0x00
	ResponseTargetFault byte = 0x01
)

// Residual says whether a command moved fewer (Underflow) or more
// (Overflow) bytes than the expected data transfer length.
type Residual struct {
	Overflow, Underflow bool
	Count               uint32
}

// SCSIResponse ends a command with its status; sense data, when present,
// is its data segment behind a two-byte length (11.4).
type SCSIResponse struct {
	Response, Status byte
	BidiResidual     Residual
	Residual         Residual
	ITT              uint32
	SNACKTag         uint32
	SN
	ExpDataSN uint32
}

// Marshal implements Message.
func (m *SCSIResponse) Marshal(h *Header) {
	h.setOpcode(OpSCSIResponse, false)
	h[1] = 0x80
	h.setFlag(0x10, m.BidiResidual.Overflow)
	h.setFlag(0x08, m.BidiResidual.Underflow)
	h.setFlag(0x04, m.Residual.Overflow)
	h.setFlag(0x02, m.Residual.Underflow)
	h[2], h[3] = m.Response, m.Status
	h.put32(16, m.ITT)
	h.put32(20, m.SNACKTag)
	m.SN.marshal(h)
	h.put32(36, m.ExpDataSN)
	h.put32(40, m.BidiResidual.Count)
	h.put32(44, m.Residual.Count)
}

// Unmarshal implements Message.
func (m *SCSIResponse) Unmarshal(h *Header) {
	*m = SCSIResponse{Response: h[2], Status: h[3],
		BidiResidual: Residual{Overflow: h.flag(0x10), Underflow: h.flag(0x08), Count: h.u32(40)},
		Residual:     Residual{Overflow: h.flag(0x04), Underflow: h.flag(0x02), Count: h.u32(44)},
		ITT:          h.u32(16), SNACKTag: h.u32(20), SN: snOf(h), ExpDataSN: h.u32(36)}
}

// Task management responses (11.6.1).
const (
	TMFComplete           byte = 0
	TMFTaskDoesNotExist   byte = 1
	TMFLUNDoesNotExist    byte = 2
	TMFTaskStillAllegiant byte = 3
	TMFReassignNotSupp    byte = 4
	TMFNotSupported       byte = 5
	TMFAuthFailed         byte = 6
	TMFRejected           byte = 255
)

// TaskMgmtResponse answers a TaskMgmtRequest (11.6).
type TaskMgmtResponse struct {
	Response byte
	ITT      uint32
	SN
}

// Marshal implements Message.
func (m *TaskMgmtResponse) Marshal(h *Header) {
	h.setOpcode(OpTaskMgmtResp, false)
	h[1] = 0x80
	h[2] = m.Response
	h.put32(16, m.ITT)
	m.SN.marshal(h)
}

// Unmarshal implements Message.
func (m *TaskMgmtResponse) Unmarshal(h *Header) {
	*m = TaskMgmtResponse{Response: h[2], ITT: h.u32(16), SN: snOf(h)}
}

// Login status classes (11.13.5).
const (
	StatusSuccess        byte = 0
	StatusRedirection    byte = 1
	StatusInitiatorError byte = 2
	StatusTargetError    byte = 3
)

// Login status details, by class (11.13.5).
const (
	DetailAuthFailure        byte = 0x01 // initiator error
	DetailForbidden          byte = 0x02
	DetailNotFound           byte = 0x03
	DetailRemoved            byte = 0x04
	DetailUnsupportedVersion byte = 0x05
	DetailTooManyConnections byte = 0x06
	DetailMissingParameter   byte = 0x07
	DetailCantIncludeInSess  byte = 0x08
	DetailSessionTypeUnsupp  byte = 0x09
	DetailSessionNotExist    byte = 0x0a
	DetailInvalidDuringLogin byte = 0x0b
	DetailTargetError        byte = 0x00 // target error
	DetailServiceUnavailable byte = 0x01
	DetailOutOfResources     byte = 0x02
)

// LoginResponse answers one LoginRequest (11.13).
type LoginResponse struct {
	Transit, Continue         bool
	CSG, NSG                  byte
	VersionMax, VersionActive byte
	ISID                      [6]byte
	TSIH                      uint16
	ITT                       uint32
	SN
	StatusClass, StatusDetail byte
}

// Marshal implements Message.
func (m *LoginResponse) Marshal(h *Header) {
	h.setOpcode(OpLoginResp, false)
	h.setFlag(0x80, m.Transit)
	h.setFlag(0x40, m.Continue)
	h[1] |= (m.CSG&3)<<2 | m.NSG&3
	h[2], h[3] = m.VersionMax, m.VersionActive
	copy(h[8:14], m.ISID[:])
	h.put16(14, m.TSIH)
	h.put32(16, m.ITT)
	m.SN.marshal(h)
	h[36], h[37] = m.StatusClass, m.StatusDetail
}

// Unmarshal implements Message.
func (m *LoginResponse) Unmarshal(h *Header) {
	*m = LoginResponse{Transit: h.flag(0x80), Continue: h.flag(0x40), CSG: h[1] >> 2 & 3, NSG: h[1] & 3,
		VersionMax: h[2], VersionActive: h[3], TSIH: h.u16(14), ITT: h.u32(16), SN: snOf(h),
		StatusClass: h[36], StatusDetail: h[37]}
	copy(m.ISID[:], h[8:14])
}

// TextResponse answers a TextRequest (11.11).
type TextResponse struct {
	Final, Continue bool
	LUN             uint64
	ITT, TTT        uint32
	SN
}

// Marshal implements Message.
func (m *TextResponse) Marshal(h *Header) {
	h.setOpcode(OpTextResp, false)
	h.setFlag(0x80, m.Final)
	h.setFlag(0x40, m.Continue)
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	m.SN.marshal(h)
}

// Unmarshal implements Message.
func (m *TextResponse) Unmarshal(h *Header) {
	*m = TextResponse{Final: h.Final(), Continue: h.flag(0x40), LUN: h.u64(8), ITT: h.u32(16),
		TTT: h.u32(20), SN: snOf(h)}
}

// DataIn carries read data; the last one may carry the status too (11.7).
type DataIn struct {
	Final, Acknowledge bool
	// HasStatus is the S bit: Status and Residual are valid and no SCSI
	// Response follows.
	HasStatus bool
	Status    byte
	Residual  Residual
	LUN       uint64
	ITT, TTT  uint32
	SN
	DataSN       uint32
	BufferOffset uint32
}

// Marshal implements Message.
func (m *DataIn) Marshal(h *Header) {
	h.setOpcode(OpDataIn, false)
	h.setFlag(0x80, m.Final)
	h.setFlag(0x40, m.Acknowledge)
	h.setFlag(0x04, m.Residual.Overflow)
	h.setFlag(0x02, m.Residual.Underflow)
	h.setFlag(0x01, m.HasStatus)
	h[3] = m.Status
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	m.SN.marshal(h)
	h.put32(36, m.DataSN)
	h.put32(40, m.BufferOffset)
	h.put32(44, m.Residual.Count)
}

// Unmarshal implements Message.
func (m *DataIn) Unmarshal(h *Header) {
	*m = DataIn{Final: h.Final(), Acknowledge: h.flag(0x40), HasStatus: h.flag(0x01), Status: h[3],
		Residual: Residual{Overflow: h.flag(0x04), Underflow: h.flag(0x02), Count: h.u32(44)},
		LUN:      h.u64(8), ITT: h.u32(16), TTT: h.u32(20), SN: snOf(h), DataSN: h.u32(36),
		BufferOffset: h.u32(40)}
}

// Logout responses (11.15.1).
const (
	LogoutSuccess         byte = 0
	LogoutCIDNotFound     byte = 1
	LogoutRecoveryNotSupp byte = 2
	LogoutCleanupFailed   byte = 3
)

// LogoutResponse answers a LogoutRequest (11.15).
type LogoutResponse struct {
	Response byte
	ITT      uint32
	SN
	Time2Wait, Time2Retain uint16
}

// Marshal implements Message.
func (m *LogoutResponse) Marshal(h *Header) {
	h.setOpcode(OpLogoutResp, false)
	h[1] = 0x80
	h[2] = m.Response
	h.put32(16, m.ITT)
	m.SN.marshal(h)
	h.put16(40, m.Time2Wait)
	h.put16(42, m.Time2Retain)
}

// Unmarshal implements Message.
func (m *LogoutResponse) Unmarshal(h *Header) {
	*m = LogoutResponse{Response: h[2], ITT: h.u32(16), SN: snOf(h), Time2Wait: h.u16(40),
		Time2Retain: h.u16(42)}
}

// R2T asks the initiator for a burst of write data (11.8).
type R2T struct {
	LUN      uint64
	ITT, TTT uint32
	SN
	R2TSN                     uint32
	BufferOffset              uint32
	DesiredDataTransferLength uint32
}

// Marshal implements Message.
func (m *R2T) Marshal(h *Header) {
	h.setOpcode(OpR2T, false)
	h[1] = 0x80
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	m.SN.marshal(h)
	h.put32(36, m.R2TSN)
	h.put32(40, m.BufferOffset)
	h.put32(44, m.DesiredDataTransferLength)
}

// Unmarshal implements Message.
func (m *R2T) Unmarshal(h *Header) {
	*m = R2T{LUN: h.u64(8), ITT: h.u32(16), TTT: h.u32(20), SN: snOf(h), R2TSN: h.u32(36),
		BufferOffset: h.u32(40), DesiredDataTransferLength: h.u32(44)}
}

// Async events (11.9.1).
const (
	AsyncSCSIEvent      byte = 0
	AsyncLogoutRequest  byte = 1
	AsyncDropConnection byte = 2
	AsyncDropSession    byte = 3
	AsyncNegotiate      byte = 4
)

// AsyncMessage is an unsolicited event from the target (11.9).
type AsyncMessage struct {
	LUN uint64
	SN
	Event, VCode                       byte
	Parameter1, Parameter2, Parameter3 uint16
}

// Marshal implements Message.
func (m *AsyncMessage) Marshal(h *Header) {
	h.setOpcode(OpAsyncMessage, false)
	h[1] = 0x80
	h.put64(8, m.LUN)
	h.put32(16, ReservedTag)
	m.SN.marshal(h)
	h[36], h[37] = m.Event, m.VCode
	h.put16(38, m.Parameter1)
	h.put16(40, m.Parameter2)
	h.put16(42, m.Parameter3)
}

// Unmarshal implements Message.
func (m *AsyncMessage) Unmarshal(h *Header) {
	*m = AsyncMessage{LUN: h.u64(8), SN: snOf(h), Event: h[36], VCode: h[37], Parameter1: h.u16(38),
		Parameter2: h.u16(40), Parameter3: h.u16(42)}
}

// Reject reasons (11.17.1).
const (
	RejectDataDigest       byte = 0x02
	RejectSNACK            byte = 0x03
	RejectProtocolError    byte = 0x04
	RejectNotSupported     byte = 0x05
	RejectImmCmd           byte = 0x06
	RejectTaskInProgress   byte = 0x07
	RejectInvalidDataAck   byte = 0x08
	RejectInvalidField     byte = 0x09
	RejectLongOpReject     byte = 0x0a
	RejectWaitingForLogout byte = 0x0c
)

// Reject refuses a PDU; its data segment is the refused PDU's header (11.17).
type Reject struct {
	Reason byte
	SN
	DataSN uint32
}

// Marshal implements Message.
func (m *Reject) Marshal(h *Header) {
	h.setOpcode(OpReject, false)
	h[1] = 0x80
	h[2] = m.Reason
	h.put32(16, ReservedTag)
	m.SN.marshal(h)
	h.put32(36, m.DataSN)
}

// Unmarshal implements Message.
func (m *Reject) Unmarshal(h *Header) {
	*m = Reject{Reason: h[2], SN: snOf(h), DataSN: h.u32(36)}
}
