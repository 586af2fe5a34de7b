package grpcapi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/tape"
)

// EraseTape rewrites a cartridge's label, discarding every data file on it,
// and empties its catalog.
//
// The order is what keeps it safe against jobs. First the state machine
// applies an EraseCartridgeOp: it refuses while the cartridge is in a drive
// or a queued or running job names it, and empties the catalog. Then the
// cartridge's fence is claimed with that entry's Raft index E as the epoch
// before anything is written, and every write goes through the fence:
//   - a job placed before E had ended by E (else the op was refused), and
//     any writer it left behind has an epoch below E: the claim fences it
//     out;
//   - a job placed after E has an epoch above E: if it claims the fence
//     first, this erase's writes are refused and nothing of the job's is
//     overwritten; if this claim came first, the job's claim takes the
//     fence over and the erase's remaining writes are refused.
//
// Either way the label is rewritten whole or not at all over a job's data.
// A second EraseCartridgeOp records the label's bytes as used.
func (s *DeviceServer) EraseTape(ctx context.Context, req *ferryv1.EraseTapeRequest) (*ferryv1.Cartridge, error) {
	if req.GetBarcode() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "barcode", Description: "required"})
	}
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	cart, ok := s.node.FSM().Cartridge(req.GetBarcode())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no cartridge %s", req.GetBarcode())
	}
	erase := func(used uint64) (fsm.Result, error) {
		return s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_EraseCartridge{EraseCartridge: &ferryv1.EraseCartridgeOp{
			Barcode: cart.GetBarcode(), UsedBytes: used}}})
	}
	res, err := erase(0)
	if err != nil {
		return nil, err
	}
	cluster := s.node.RaftStatus().GetClusterId()
	used, err := rewriteLabel(ctx, cart, cluster, res.Index)
	if err != nil {
		return nil, status.Errorf(codes.Aborted, "cartridge %s: its catalog was emptied but its label was not rewritten, so its files are still on it: %v", cart.GetBarcode(), err)
	}
	if done, err := erase(uint64(used)); err == nil {
		return done.Cartridge, nil
	}
	// The label is rewritten; only the used bytes were not recorded (a job
	// came since): the next job to write the cartridge records them.
	return res.Cartridge, nil
}

// rewriteLabel writes a fresh label at the beginning of the cartridge's
// image, discarding everything after it, under its fence claimed with
// epoch, and returns the bytes in use.
func rewriteLabel(ctx context.Context, c *ferryv1.Cartridge, cluster string, epoch uint64) (used int64, err error) {
	f, err := fence.Open(c.GetPath(), cluster)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := f.Claim(ctx, epoch); err != nil {
		return 0, fmt.Errorf("claim with epoch %d: %w", epoch, err)
	}
	// Recover: a damaged tail is no reason to keep what erase discards.
	t, err := tape.Open(c.GetPath(), tape.Options{Capacity: int64(c.GetCapacityBytes()), Recover: true})
	if err != nil {
		return 0, err
	}
	ft := &fencedTape{Cartridge: t, f: f, epoch: epoch}
	defer func() {
		// Close writes what the cartridge still buffers, so it is fenced
		// too; refused, the image stays open rather than let a fenced-out
		// buffer reach it.
		err = errors.Join(err, f.Write(epoch, t.Close))
	}()
	if err := tape.WriteLabel(ft, c.GetBarcode()); err != nil {
		return 0, err
	}
	if err := f.Write(epoch, t.Flush); err != nil {
		return 0, err
	}
	return t.Used(), nil
}

// fencedTape passes a cartridge's writes through its fence.
type fencedTape struct {
	*tape.Cartridge
	f     *fence.Fence
	epoch uint64
}

func (t *fencedTape) WriteRecord(p []byte) (ew bool, err error) {
	err = t.f.Write(t.epoch, func() error { ew, err = t.Cartridge.WriteRecord(p); return err })
	return ew, err
}

func (t *fencedTape) WriteFilemarks(n int) (ew bool, err error) {
	err = t.f.Write(t.epoch, func() error { ew, err = t.Cartridge.WriteFilemarks(n); return err })
	return ew, err
}
