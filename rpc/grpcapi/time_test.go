package grpcapi

import "google.golang.org/protobuf/types/known/timestamppb"

func timestampNow() *timestamppb.Timestamp { return timestamppb.Now() }
