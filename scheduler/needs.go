package scheduler

import (
	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Registry resolves what a job does to its devices; *fsm.FSM is one.
type Registry interface {
	JobAccess(spec *ferryv1.JobSpec) (fsm.JobAccess, error)
}

// jobView lists the devices a job needs, as the state machine resolves
// them (fsm.FSM.JobAccess): an EXTENDED COPY list's targets count as
// written when a segment writes them. A job whose devices do not resolve is marked unresolvable: it is placed anyway, so that its copy
// fails and records why.
func jobView(reg Registry, j *ferryv1.Job) JobView {
	// A job accepted before a rule was added may break it now; what it
	// touches is still what counts here, so the error is not needed.
	acc, _ := reg.JobAccess(j.GetSpec())
	if acc.Unresolvable {
		return JobView{Job: j, Unresolvable: true}
	}
	v := JobView{Job: j, Pool: acc.Pool}
	for _, d := range acc.Devices {
		name := d.Device.Cartridge.GetBarcode()
		if d.Device.Disk != nil {
			name = d.Device.Disk.GetName()
			v.Disks = append(v.Disks, name)
		} else {
			v.Cartridges = append(v.Cartridges, name)
		}
		if d.Write {
			v.Writes = append(v.Writes, name)
		}
		v.Bytes = max(v.Bytes, rangeBytes(d.Reads), rangeBytes(d.Writes))
	}
	return v
}

// rangeBytes sums the lengths of a disk's ranges.
func rangeBytes(rs []fsm.ByteRange) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Length
	}
	return n
}
