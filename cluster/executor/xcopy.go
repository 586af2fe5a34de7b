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
func (e *Executor) xcopyPlan(reg *fsm.FSM, list []byte, o *opened) (mover.Plan, error) {
	pl, err := xcopy.Decode(list, xcopy.DefaultLimits())
	if err != nil {
		return mover.Plan{}, err
	}
	plan, devs, err := mover.FromXCopy(pl, func(naa []byte) (mover.Device, error) {
		return o.openNAA(reg, naa)
	})
	if err != nil {
		return mover.Plan{}, err
	}
	o.devs = devs
	return plan, nil
}

// openNAA opens the registered device with the designator, for reading and
// writing: an XCOPY target may be a source in one segment and a destination
// in the next.
func (o *opened) openNAA(reg *fsm.FSM, naa []byte) (mover.Device, error) {
	dev, err := reg.ResolveDevice(&ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Naa{Naa: hex.EncodeToString(naa)}})
	if err != nil {
		return mover.Device{}, fmt.Errorf("%w: no device has NAA %x", sense.New(sense.CopyAborted, sense.CopyTargetNotReachable), naa)
	}
	switch {
	case dev.Disk != nil:
		f, err := o.claim(dev.Disk.GetPath())
		if err != nil {
			return mover.Device{}, err
		}
		lun, err := OpenDisk(dev.Disk, false)
		if err != nil {
			return mover.Device{}, err
		}
		o.closers = append(o.closers, lun.Close)
		return o.guarded(mover.Device{Name: "disk:" + dev.Disk.GetName(), Block: lun}, f), nil
	default:
		f, err := o.claim(dev.Cartridge.GetPath())
		if err != nil {
			return mover.Device{}, err
		}
		t, err := OpenCartridge(dev.Cartridge, false)
		if err != nil {
			return mover.Device{}, err
		}
		o.closers = append(o.closers, o.closeWritten(t, f))
		o.cartridges = append(o.cartridges, dev.Cartridge.GetBarcode())
		return o.guarded(mover.Device{Name: "tape:" + dev.Cartridge.GetBarcode(), Tape: t}, f), nil
	}
}
