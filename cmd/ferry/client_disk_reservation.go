package main

import (
	"fmt"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/pr"
)

// reservationText is a disk's SCSI reservation for `disk list`: its type
// and holder, "RESERVE(6) by …" for an SPC-2 one, how many keys are
// registered without one, "-" for none.
func reservationText(d *ferryv1.Disk) string {
	r := d.GetReservation()
	keys := len(r.GetRegistrations())
	switch {
	case r.GetReserved() && r.GetHolder() != nil:
		return fmt.Sprintf("%s by %s", fsm.TypeName(pr.Type(r.GetType())), r.GetHolder().GetInitiator())
	case r.GetReserved():
		return fmt.Sprintf("%s (%d registrants)", fsm.TypeName(pr.Type(r.GetType())), keys)
	case r.GetLegacyHolder() != nil:
		return "RESERVE(6) by " + r.GetLegacyHolder().GetInitiator()
	case keys > 0:
		return fmt.Sprintf("none (%d keys registered)", keys)
	}
	return "-"
}
