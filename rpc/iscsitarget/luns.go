package iscsitarget

import (
	"encoding/hex"
	"errors"
	"log/slog"

	"github.com/ferry-san/ferry/cluster/executor"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/sbc"
	"github.com/ferry-san/ferry/storage/disk"
)

// lunSet keeps the device server's LUNs in step with the registered disks:
// a disk appears once this node can open it, under the LUN number the
// state machine gave it, and goes once it is no longer registered.
type lunSet struct {
	server *sbc.Server
	log    *slog.Logger
	open   map[uint64]*disk.LUN
	// failed remembers disks this node could not open, so that the log
	// says it once, not every rescan.
	failed map[string]string
}

func newLUNSet(server *sbc.Server, log *slog.Logger) *lunSet {
	return &lunSet{server: server, log: log, open: map[uint64]*disk.LUN{}, failed: map[string]string{}}
}

// sync presents every disk not yet presented and drops the LUNs whose disk
// is no longer registered (LUN numbers are never reused).
func (l *lunSet) sync(disks []*ferryv1.Disk) {
	registered := make(map[uint64]bool, len(disks))
	for _, d := range disks {
		registered[uint64(d.GetLun())] = true
	}
	for n := range l.open {
		if !registered[n] {
			l.drop(n)
		}
	}
	for _, d := range disks {
		n := uint64(d.GetLun())
		if _, ok := l.open[n]; ok || n == 0 {
			continue
		}
		if err := l.add(n, d); err != nil {
			if l.failed[d.GetName()] != err.Error() {
				l.failed[d.GetName()] = err.Error()
				l.log.Warn("disk not presented as a LUN", "disk", d.GetName(), "lun", n, "err", err)
			}
			continue
		}
		delete(l.failed, d.GetName())
		l.log.Info("disk presented", "disk", d.GetName(), "lun", n)
	}
}

func (l *lunSet) add(n uint64, d *ferryv1.Disk) error {
	naa, err := hex.DecodeString(d.GetNaa())
	if err != nil {
		return err
	}
	lun, err := executor.OpenDisk(d, false)
	if err != nil {
		return err
	}
	if p := lun.Provisioning(); d.GetThin() && !p.Thin {
		// Presented fully provisioned (LBPME zero), which is the truth.
		l.log.Warn("thin disk presented fully provisioned: its file system cannot unmap", "disk", d.GetName(), "reason", p.Reason)
	}
	if err := l.server.Add(n, sbc.NewLUN(lun, sbc.Identity{NAA: naa, Serial: d.GetName()})); err != nil {
		return errors.Join(err, lun.Close())
	}
	l.open[n] = lun
	return nil
}

// drop stops presenting LUN n and closes its disk: commands already
// running on it end with an error, new ones get LOGICAL UNIT NOT SUPPORTED.
func (l *lunSet) drop(n uint64) {
	l.server.Remove(n)
	if err := l.open[n].Close(); err != nil {
		l.log.Warn("closing a LUN", "lun", n, "err", err)
	}
	delete(l.open, n)
	l.log.Info("disk no longer presented", "lun", n)
}

// close stops presenting the disks and closes them.
func (l *lunSet) close() {
	for n := range l.open {
		l.drop(n)
	}
}
