// Package initiator is a minimal iSCSI initiator (RFC 7143) for tests and
// tools: it logs in to one target over one connection without
// authentication or digests, runs SCSI commands one at a time (Data-In,
// R2T/Data-Out, immediate data, SCSI Response) and logs out. It has no
// error recovery: a broken connection ends the session.
//
//	s, err := initiator.Dial(ctx, "127.0.0.1:3260", "iqn.2026-11.io.example:tool", "iqn.2026-11.io.ferry:ferry")
//	if err != nil { ... }
//	defer s.Close()
//	res, err := s.Command(ctx, 1, cdb, nil, 512)
package initiator
