package grpcapi

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

const (
	// defaultAuditLimit is the records of a List that names no limit.
	defaultAuditLimit = 1000
	// auditListBytes keeps an answer below gRPC's default 4 MiB message
	// limit whatever the records hold: the oldest past it are omitted.
	auditListBytes = 3 << 20
)

// MaxAuditList bounds the records of one List.
const MaxAuditList = 5000

// AuditServer implements AuditService from the node's replica of the trail.
type AuditServer struct {
	ferryv1.UnimplementedAuditServiceServer
	node Node
}

// NewAuditServer returns an AuditServer answering from node.
func NewAuditServer(node Node) *AuditServer { return &AuditServer{node: node} }

func (s *AuditServer) List(ctx context.Context, req *ferryv1.ListAuditRequest) (*ferryv1.ListAuditResponse, error) {
	var bad []fsm.FieldViolation
	if req.GetLimit() > MaxAuditList {
		bad = append(bad, fsm.FieldViolation{Field: "limit", Description: fmt.Sprintf("at most %d", MaxAuditList)})
	}
	if since := req.GetSince(); since != nil && since.CheckValid() != nil {
		bad = append(bad, fsm.FieldViolation{Field: "since", Description: since.CheckValid().Error()})
	}
	if len(bad) > 0 {
		return nil, invalid(bad...)
	}
	if err := linearize(ctx, s.node, req.GetStale()); err != nil {
		return nil, err
	}
	filter := fsm.AuditFilter{Who: req.GetWho(), Limit: int(req.GetLimit())}
	if filter.Limit == 0 {
		filter.Limit = defaultAuditLimit
	}
	if req.GetSince() != nil {
		filter.Since = req.GetSince().AsTime()
	}
	page := s.node.FSM().AuditRecords(filter)
	recs, size := page.Records, 0
	first := len(recs)
	for first > 0 && size+proto.Size(recs[first-1]) <= auditListBytes {
		first--
		size += proto.Size(recs[first])
	}
	return &ferryv1.ListAuditResponse{Records: recs[first:], Omitted: uint64(page.Omitted + first), Capped: page.Capped}, nil
}
