package main

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func badRequest(t *testing.T, msg string, fields ...string) error {
	t.Helper()
	br := &errdetails.BadRequest{}
	for i := 0; i+1 < len(fields); i += 2 {
		br.FieldViolations = append(br.FieldViolations,
			&errdetails.BadRequest_FieldViolation{Field: fields[i], Description: fields[i+1]})
	}
	st, err := status.New(codes.InvalidArgument, msg).WithDetails(br)
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

func TestDescribeError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"plain error", errors.New("job file x: bad"), []string{"job file x: bad"}},
		{"status", status.Error(codes.NotFound, "job j-1"), []string{"not found: job j-1"}},
		{"code repeated in message", status.Error(codes.NotFound, "not found: job j-1"), []string{"not found: job j-1"}},
		{"no message", status.Error(codes.Internal, ""), []string{"internal"}},
		{"wrapped status", fmt.Errorf("listing: %w", status.Error(codes.DeadlineExceeded, "slow")), []string{"listing: deadline exceeded: slow"}},
		{
			"violations listed in message",
			badRequest(t, "invalid argument: spec.source.device: required; spec.options.priority: too high",
				"spec.source.device", "required", "spec.options.priority", "too high"),
			[]string{"invalid argument: spec.source.device: required", "invalid argument: spec.options.priority: too high"},
		},
		{
			"message adds to violations",
			badRequest(t, "invalid job spec", "spec.source.device", "required"),
			[]string{"invalid argument: invalid job spec", "invalid argument: spec.source.device: required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeError(tt.err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("describeError = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCodeText(t *testing.T) {
	tests := []struct {
		code codes.Code
		want string
	}{
		{codes.InvalidArgument, "invalid argument"},
		{codes.Unavailable, "unavailable"},
		{codes.FailedPrecondition, "failed precondition"},
		{codes.DeadlineExceeded, "deadline exceeded"},
		{codes.Canceled, "canceled"},
	}
	for _, tt := range tests {
		if got := codeText(tt.code); got != tt.want {
			t.Errorf("codeText(%v) = %q, want %q", tt.code, got, tt.want)
		}
	}
}
