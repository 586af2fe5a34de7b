package task

import (
	"errors"
	"testing"
)

func TestGate(t *testing.T) {
	tests := []struct {
		name    string
		gate    *Gate
		abort   bool
		want    error
		changed bool
	}{
		{"no gate", nil, false, nil, true},
		{"open gate", &Gate{}, false, nil, true},
		{"aborted", &Gate{}, true, ErrAborted, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.abort {
				tc.gate.Abort()
			}
			changed := false
			tk := &Task{Gate: tc.gate}
			err := tk.Commit(func() error { changed = true; return nil })
			if !errors.Is(err, tc.want) || changed != tc.changed {
				t.Fatalf("Commit = %v, changed %v; want %v, %v", err, changed, tc.want, tc.changed)
			}
		})
	}
}
