package grpcapi

import (
	"context"
	"fmt"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/library"
)

// CreatePool defines a pool: barcodes and ranges are expanded here, and the
// state machine checks the rest (the library, a name not taken, members
// in no other pool and of no other library).
func (s *DeviceServer) CreatePool(ctx context.Context, req *ferryv1.CreatePoolRequest) (*ferryv1.Pool, error) {
	var bad []fsm.FieldViolation
	if req.GetName() == "" {
		bad = append(bad, fsm.FieldViolation{Field: "name", Description: "required"})
	}
	if req.GetLibrary() == "" {
		bad = append(bad, fsm.FieldViolation{Field: "library", Description: "required"})
	}
	var barcodes []string
	for i, spec := range req.GetBarcodes() {
		got, err := library.ExpandBarcodes(spec, fsm.MaxPoolBarcodes-len(barcodes))
		if err != nil {
			bad = append(bad, fsm.FieldViolation{Field: fmt.Sprintf("barcodes[%d]", i), Description: err.Error()})
			continue
		}
		barcodes = append(barcodes, got...)
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	res, err := s.register(ctx, &ferryv1.Command{Op: &ferryv1.Command_CreatePool{CreatePool: &ferryv1.CreatePoolOp{
		Pool: &ferryv1.Pool{Name: req.GetName(), Library: req.GetLibrary(), Barcodes: barcodes},
	}}})
	if err != nil {
		return nil, err
	}
	return res.Pool, nil
}

// ListPools lists the pools with their counts, from a linearizable read.
func (s *DeviceServer) ListPools(ctx context.Context, _ *ferryv1.ListPoolsRequest) (*ferryv1.ListPoolsResponse, error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	return &ferryv1.ListPoolsResponse{Pools: s.node.FSM().Pools()}, nil
}
