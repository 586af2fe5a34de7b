package iscsi

import (
	"sync"
)

// session is one logged-in I_T nexus. The target allows one connection
// per session (MaxConnections=1), so commands arrive in CmdSN order and the
// window needs no reordering queue.
type session struct {
	// port is the SCSI initiator port name: iSCSI name + ",i,0x" + ISID.
	port      string
	tsih      uint16
	discovery bool
	p         params
	conn      *conn
	depth     uint32

	mu sync.Mutex
	// expCmdSN is the next CmdSN expected; inflight counts the commands
	// admitted whose final response is not yet sent: the window shrinks by
	// them so that no more than depth commands are outstanding.
	expCmdSN uint32
	inflight uint32
}

// snLess is RFC 1982 serial number arithmetic on 32 bits.
func snLess(a, b uint32) bool { return a != b && int32(a-b) < 0 }

// window returns ExpCmdSN and MaxCmdSN.
func (s *session) window() (uint32, uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expCmdSN, s.expCmdSN - 1 + s.depth - s.inflight
}

// admit checks a command's CmdSN against the window and advances it. An
// immediate command is always admitted and takes no CmdSN; counted says
// whether the command occupies a queue slot until release is called.
func (s *session) admit(cmdSN uint32, immediate, counted bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if immediate {
		return true
	}
	maxCmdSN := s.expCmdSN - 1 + s.depth - s.inflight
	// Commands out of the window are silently ignored (RFC 7143 4.2.2.1);
	// with one connection a gap means a lost PDU, and at
	// ErrorRecoveryLevel 0 such a connection is as good as gone.
	if cmdSN != s.expCmdSN || snLess(maxCmdSN, cmdSN) {
		return false
	}
	s.expCmdSN++
	if counted {
		s.inflight++
	}
	return true
}

// release frees the queue slot of a counted command.
func (s *session) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight > 0 {
		s.inflight--
	}
}
