package iscsi

// nexusLoser is implemented by a task.Server that keeps state an I_T
// nexus loss clears, such as the RESERVE(6) reservations it holds.
type nexusLoser interface {
	// NexusLost is called once a normal session of initiator port
	// initiator has ended and its commands are done.
	NexusLost(initiator string)
}

// nexusLost tells the server that the I_T nexus of s is gone, unless a
// newer session of the same initiator port has taken its place (session
// reinstatement keeps the nexus).
func (t *Target) nexusLost(s *session, replaced bool) {
	if s.discovery || replaced {
		return
	}
	if l, ok := t.cfg.Server.(nexusLoser); ok {
		l.NexusLost(s.port)
	}
}

// AbortTasks aborts the tasks of initiator port initiator on LUN lun as a
// third party (they end with TASK ABORTED, as with TAS set), for a device
// server's PREEMPT AND ABORT, or with initiator "" those of every
// initiator port, for a logical unit reset another node's portal received.
// It returns once none of them can change the medium; commands still
// collecting data-out never run.
func (t *Target) AbortTasks(initiator string, lun uint64) {
	t.mu.Lock()
	var sessions []*session
	if initiator == "" {
		for _, s := range t.sessions {
			sessions = append(sessions, s)
		}
	} else if s := t.sessions[initiator]; s != nil {
		sessions = append(sessions, s)
	}
	t.mu.Unlock()
	for _, s := range sessions {
		if !s.discovery {
			s.conn.abort(func(x *command) bool { return lunNumber(x.lunRaw) == lun }, true)
		}
	}
}
