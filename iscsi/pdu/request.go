package pdu

// The PDUs an initiator sends (RFC 7143 chapter 11).

// NOPOut is a ping from the initiator or its answer to a NOP-In (11.18).
type NOPOut struct {
	Immediate bool
	LUN       uint64
	ITT, TTT  uint32
	CmdSN     uint32
	ExpStatSN uint32
}

// Marshal implements Message.
func (m *NOPOut) Marshal(h *Header) {
	h.setOpcode(OpNOPOut, m.Immediate)
	h[1] = 0x80
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
}

// Unmarshal implements Message.
func (m *NOPOut) Unmarshal(h *Header) {
	*m = NOPOut{Immediate: h.Immediate(), LUN: h.u64(8), ITT: h.u32(16), TTT: h.u32(20),
		CmdSN: h.u32(24), ExpStatSN: h.u32(28)}
}

// SCSICommand carries a CDB (11.3). CDBs longer than 16 bytes continue in
// an Extended CDB AHS, which Encode and ParseSCSICommand handle.
type SCSICommand struct {
	Immediate, Final, Read, Write bool
	Attr                          byte
	LUN                           uint64
	ITT                           uint32
	ExpectedDataTransferLength    uint32
	CmdSN, ExpStatSN              uint32
	CDB                           []byte
}

// Marshal implements Message; it writes at most the first 16 CDB bytes.
func (m *SCSICommand) Marshal(h *Header) {
	h.setOpcode(OpSCSICommand, m.Immediate)
	h.setFlag(0x80, m.Final)
	h.setFlag(0x40, m.Read)
	h.setFlag(0x20, m.Write)
	h[1] |= m.Attr & 0x07
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.ExpectedDataTransferLength)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
	copy(h[32:48], m.CDB)
}

// Unmarshal implements Message; CDB gets the 16 BHS bytes.
func (m *SCSICommand) Unmarshal(h *Header) {
	*m = SCSICommand{Immediate: h.Immediate(), Final: h.Final(), Read: h.flag(0x40), Write: h.flag(0x20),
		Attr: h[1] & 0x07, LUN: h.u64(8), ITT: h.u32(16), ExpectedDataTransferLength: h.u32(20),
		CmdSN: h.u32(24), ExpStatSN: h.u32(28), CDB: append([]byte(nil), h[32:48]...)}
}

// TMF functions (11.5.1).
const (
	TMFAbortTask        byte = 1
	TMFAbortTaskSet     byte = 2
	TMFClearACA         byte = 3
	TMFClearTaskSet     byte = 4
	TMFLogicalUnitReset byte = 5
	TMFTargetWarmReset  byte = 6
	TMFTargetColdReset  byte = 7
	TMFTaskReassign     byte = 8
)

// TaskMgmtRequest asks the target to abort or reset tasks (11.5).
type TaskMgmtRequest struct {
	Immediate         bool
	Function          byte
	LUN               uint64
	ITT               uint32
	ReferencedTaskTag uint32
	CmdSN, ExpStatSN  uint32
	RefCmdSN          uint32
	ExpDataSN         uint32
}

// Marshal implements Message.
func (m *TaskMgmtRequest) Marshal(h *Header) {
	h.setOpcode(OpTaskMgmtReq, m.Immediate)
	h[1] = 0x80 | m.Function&0x7f
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.ReferencedTaskTag)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
	h.put32(32, m.RefCmdSN)
	h.put32(36, m.ExpDataSN)
}

// Unmarshal implements Message.
func (m *TaskMgmtRequest) Unmarshal(h *Header) {
	*m = TaskMgmtRequest{Immediate: h.Immediate(), Function: h[1] & 0x7f, LUN: h.u64(8), ITT: h.u32(16),
		ReferencedTaskTag: h.u32(20), CmdSN: h.u32(24), ExpStatSN: h.u32(28), RefCmdSN: h.u32(32),
		ExpDataSN: h.u32(36)}
}

// Login stages (11.12.3).
const (
	StageSecurity    byte = 0
	StageOperational byte = 1
	StageFullFeature byte = 3
)

// LoginRequest is one step of a login (11.12).
type LoginRequest struct {
	Transit, Continue      bool
	CSG, NSG               byte
	VersionMax, VersionMin byte
	ISID                   [6]byte
	TSIH                   uint16
	ITT                    uint32
	CID                    uint16
	CmdSN, ExpStatSN       uint32
}

// Marshal implements Message.
func (m *LoginRequest) Marshal(h *Header) {
	h.setOpcode(OpLoginReq, true)
	h.setFlag(0x80, m.Transit)
	h.setFlag(0x40, m.Continue)
	h[1] |= (m.CSG&3)<<2 | m.NSG&3
	h[2], h[3] = m.VersionMax, m.VersionMin
	copy(h[8:14], m.ISID[:])
	h.put16(14, m.TSIH)
	h.put32(16, m.ITT)
	h.put16(20, m.CID)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
}

// Unmarshal implements Message.
func (m *LoginRequest) Unmarshal(h *Header) {
	*m = LoginRequest{Transit: h.flag(0x80), Continue: h.flag(0x40), CSG: h[1] >> 2 & 3, NSG: h[1] & 3,
		VersionMax: h[2], VersionMin: h[3], TSIH: h.u16(14), ITT: h.u32(16), CID: h.u16(20),
		CmdSN: h.u32(24), ExpStatSN: h.u32(28)}
	copy(m.ISID[:], h[8:14])
}

// TextRequest carries key=value pairs after login, such as SendTargets (11.10).
type TextRequest struct {
	Immediate, Final, Continue bool
	LUN                        uint64
	ITT, TTT                   uint32
	CmdSN, ExpStatSN           uint32
}

// Marshal implements Message.
func (m *TextRequest) Marshal(h *Header) {
	h.setOpcode(OpTextReq, m.Immediate)
	h.setFlag(0x80, m.Final)
	h.setFlag(0x40, m.Continue)
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
}

// Unmarshal implements Message.
func (m *TextRequest) Unmarshal(h *Header) {
	*m = TextRequest{Immediate: h.Immediate(), Final: h.Final(), Continue: h.flag(0x40), LUN: h.u64(8),
		ITT: h.u32(16), TTT: h.u32(20), CmdSN: h.u32(24), ExpStatSN: h.u32(28)}
}

// DataOut carries write data, unsolicited or answering an R2T (11.7).
type DataOut struct {
	Final        bool
	LUN          uint64
	ITT, TTT     uint32
	ExpStatSN    uint32
	DataSN       uint32
	BufferOffset uint32
}

// Marshal implements Message.
func (m *DataOut) Marshal(h *Header) {
	h.setOpcode(OpDataOut, false)
	h.setFlag(0x80, m.Final)
	h.put64(8, m.LUN)
	h.put32(16, m.ITT)
	h.put32(20, m.TTT)
	h.put32(28, m.ExpStatSN)
	h.put32(36, m.DataSN)
	h.put32(40, m.BufferOffset)
}

// Unmarshal implements Message.
func (m *DataOut) Unmarshal(h *Header) {
	*m = DataOut{Final: h.Final(), LUN: h.u64(8), ITT: h.u32(16), TTT: h.u32(20), ExpStatSN: h.u32(28),
		DataSN: h.u32(36), BufferOffset: h.u32(40)}
}

// Logout reasons (11.14.1).
const (
	LogoutCloseSession    byte = 0
	LogoutCloseConnection byte = 1
	LogoutRemoveForRecov  byte = 2
)

// LogoutRequest ends a connection or a session (11.14).
type LogoutRequest struct {
	Immediate        bool
	Reason           byte
	ITT              uint32
	CID              uint16
	CmdSN, ExpStatSN uint32
}

// Marshal implements Message.
func (m *LogoutRequest) Marshal(h *Header) {
	h.setOpcode(OpLogoutReq, m.Immediate)
	h[1] = 0x80 | m.Reason&0x7f
	h.put32(16, m.ITT)
	h.put16(20, m.CID)
	h.put32(24, m.CmdSN)
	h.put32(28, m.ExpStatSN)
}

// Unmarshal implements Message.
func (m *LogoutRequest) Unmarshal(h *Header) {
	*m = LogoutRequest{Immediate: h.Immediate(), Reason: h[1] & 0x7f, ITT: h.u32(16), CID: h.u16(20),
		CmdSN: h.u32(24), ExpStatSN: h.u32(28)}
}
