package fsm

import (
	"encoding/hex"
	"errors"
	"fmt"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

const listField = "spec.xcopy_parameter_list"

// parameterList resolves an EXTENDED COPY parameter list: its CSCD
// descriptors name devices by NAA designator.
func (r *resolver) parameterList(list []byte) {
	pl, err := xcopy.Decode(list, xcopy.DefaultLimits())
	if err != nil {
		r.acc.Unresolvable = true
		r.refuse(listField, err)
		return
	}
	for i, t := range pl.Targets {
		naa := hex.EncodeToString(t.NAA)
		d, err := r.s.resolveDevice(&ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: naa}})
		if err != nil {
			r.missing(listField, fmt.Sprintf("CSCD descriptor %d: no registered device with NAA %s", i, naa))
			continue
		}
		a := r.device(d)
		a.Read, a.Write = true, true
	}
}

// refuse records a violation that carries SCSI sense data; the first
// sense found is the one a SCSI initiator gets.
func (r *resolver) refuse(field string, err error) {
	var sd *sense.Sense
	if errors.As(err, &sd) && r.sense == nil {
		r.sense = sd
	}
	r.v.add(field, err.Error())
}
