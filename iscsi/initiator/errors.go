package initiator

import "errors"

// Errors a Session returns, wrapped with detail; test them with errors.Is.
var (
	// ErrLogin marks a login the target refused or answered unexpectedly.
	ErrLogin = errors.New("iscsi initiator: login failed")
	// ErrProtocol marks a PDU the initiator did not expect, or a Reject.
	ErrProtocol = errors.New("iscsi initiator: protocol error")
	// ErrClosed marks a session that was closed or whose connection broke.
	ErrClosed = errors.New("iscsi initiator: session closed")
	// ErrLUN marks a LUN number that flat addressing cannot express.
	ErrLUN = errors.New("iscsi initiator: LUN out of range")
)
