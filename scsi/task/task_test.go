package task

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ferry-san/ferry/scsi/sense"
)

func TestErrorResult(t *testing.T) {
	medium := sense.New(sense.MediumError, sense.UnrecoveredReadError)
	tests := []struct {
		name   string
		err    error
		status Status
		sense  *sense.Sense
	}{
		{"sense data", fmt.Errorf("piece: %w", medium), CheckCondition, medium},
		{"aborted", ErrAborted, TaskAborted, nil},
		{"context ended", fmt.Errorf("read: %w", context.Canceled), TaskAborted, nil},
		{"deadline", context.DeadlineExceeded, TaskAborted, nil},
		{"anything else", errors.New("bug"), CheckCondition, sense.New(sense.HardwareError, sense.InternalTargetFailure)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := ErrorResult(tc.err)
			if res.Status != tc.status || (tc.sense == nil) != (res.Sense == nil) ||
				tc.sense != nil && (res.Sense.Key != tc.sense.Key || res.Sense.Code() != tc.sense.Code()) {
				t.Fatalf("ErrorResult(%v) = %+v, want status %#x sense %v", tc.err, res, tc.status, tc.sense)
			}
		})
	}
}
