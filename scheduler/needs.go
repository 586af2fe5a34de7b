package scheduler

import (
	"encoding/hex"
	"slices"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// Registry resolves device references; *fsm.FSM is one.
type Registry interface {
	ResolveDevice(ref *ferryv1.DeviceRef) (fsm.Device, error)
}

// jobView resolves the devices a job needs. An EXTENDED COPY list's targets
// all count as written: any of them may be a destination. A job whose
// devices do not resolve is marked unresolvable: it is placed anyway, so
// that its copy fails and records why.
func jobView(reg Registry, j *ferryv1.Job) JobView {
	v := JobView{Job: j}
	add := func(d fsm.Device, write bool) {
		name := ""
		switch {
		case d.Disk != nil:
			name = d.Disk.GetName()
			if !slices.Contains(v.Disks, name) {
				v.Disks = append(v.Disks, name)
			}
		case d.Cartridge != nil:
			name = d.Cartridge.GetBarcode()
			if !slices.Contains(v.Cartridges, name) {
				v.Cartridges = append(v.Cartridges, name)
			}
		default:
			return
		}
		if write && !slices.Contains(v.Writes, name) {
			v.Writes = append(v.Writes, name)
		}
	}
	spec := j.GetSpec()
	if list := spec.GetXcopyParameterList(); len(list) > 0 {
		pl, err := xcopy.Decode(list, xcopy.DefaultLimits())
		if err != nil {
			v.Unresolvable = true
			return v
		}
		for _, t := range pl.Targets {
			d, err := reg.ResolveDevice(&ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: hex.EncodeToString(t.NAA)}})
			if err != nil {
				// The copy reports an unreachable target itself.
				continue
			}
			add(d, true)
		}
		return v
	}
	for i, ep := range []*ferryv1.Endpoint{spec.GetSource(), spec.GetDestination()} {
		d, err := reg.ResolveDevice(ep.GetDevice())
		if err != nil {
			v.Unresolvable = true
			return JobView{Job: j, Unresolvable: true}
		}
		add(d, i == 1)
	}
	return v
}
