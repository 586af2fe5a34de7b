package grpcapi

import (
	"context"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func (s *Server) Members(ctx context.Context, _ *ferryv1.MembersRequest) (*ferryv1.MembersResponse, error) {
	return &ferryv1.MembersResponse{Members: s.node.Members(), AnsweredBy: s.node.Name()}, nil
}

func (s *Server) RaftStatus(ctx context.Context, _ *ferryv1.RaftStatusRequest) (*ferryv1.RaftStatusResponse, error) {
	return s.node.RaftStatus(), nil
}

func (s *Server) RemoveMember(ctx context.Context, req *ferryv1.RemoveMemberRequest) (*ferryv1.RemoveMemberResponse, error) {
	if req.GetNode() == "" {
		return nil, invalid(fsm.FieldViolation{Field: "node", Description: "required"})
	}
	ctx, cancel := withDefaultTimeout(ctx)
	defer cancel()
	if err := s.node.RemoveMember(ctx, req.GetNode()); err != nil {
		return nil, toStatus(err)
	}
	st := s.node.RaftStatus()
	return &ferryv1.RemoveMemberResponse{Voters: st.GetVoters(), Learners: st.GetLearners()}, nil
}
