package executor

import (
	"encoding/hex"
	"fmt"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/mover"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/scsi/xcopy"
)

// xcopyPlan decodes an EXTENDED COPY parameter list and opens the copy
// targets its CSCD descriptors name, by NAA designator, in the registry.
// mover.FromXCopy opens each designator once, however many descriptors
// name it, so a device has one handle (one tape position, one write
// buffer) and one fence claim in a job.
func (e *Executor) xcopyPlan(reg *fsm.FSM, list []byte, o *opened) (mover.Plan, error) {
	pl, err := xcopy.Decode(list, xcopy.DefaultLimits())
	if err != nil {
		return mover.Plan{}, err
	}
	paths := map[string]string{} // device path → the NAA that opened it
	plan, devs, err := mover.FromXCopy(pl, func(naa []byte, write bool) (mover.Device, error) {
		return o.openNAA(reg, naa, write, paths)
	})
	if err != nil {
		return mover.Plan{}, err
	}
	o.devs = devs // the same devices, in the order resolve opened them
	return plan, nil
}

// openNAA opens the registered device with the designator, for writing if
// some segment writes to it (claiming its fence first). paths guards the
// rule that one designator is one device: a second designator that
// resolves to a device already open (one file registered twice) is refused
// rather than given a second handle.
func (o *opened) openNAA(reg *fsm.FSM, naa []byte, write bool, paths map[string]string) (mover.Device, error) {
	dev, err := reg.ResolveDevice(&ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: hex.EncodeToString(naa)}})
	if err != nil {
		return mover.Device{}, fmt.Errorf("%w: no device has NAA %x", sense.New(sense.CopyAborted, sense.CopyTargetNotReachable), naa)
	}
	path := dev.Path()
	if other, ok := paths[path]; ok {
		return mover.Device{}, fmt.Errorf("%w: NAA %x and %s name one device, %s", sense.New(sense.CopyAborted, sense.CopyTargetNotReachable), naa, other, path)
	}
	paths[path] = hex.EncodeToString(naa)
	kind := ferryv1.DeviceKind_DEVICE_KIND_TAPE
	if dev.Disk != nil {
		kind = ferryv1.DeviceKind_DEVICE_KIND_DISK
	}
	ep := &ferryv1.Endpoint{Kind: kind, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: hex.EncodeToString(naa)}}}
	if err := o.openEndpoint(reg, ep, write); err != nil {
		return mover.Device{}, err
	}
	return o.devs[len(o.devs)-1], nil
}
