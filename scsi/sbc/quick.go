package sbc

// Quick reports whether a command ends once the block read or write of its
// own transfer is done, waiting on nothing else (not a copy job, not the
// cluster): a transport may run such a command on the goroutine that reads
// its connection when nothing else is queued there, sparing a hand-off to
// another thread per command. The transport bounds the transfer itself.
func (s *Server) Quick(cdb []byte) bool {
	if len(cdb) == 0 {
		return false
	}
	switch cdb[0] {
	case opRead6, opRead10, opRead12, opRead16, opWrite6, opWrite10, opWrite12, opWrite16:
		return true
	}
	return false
}
