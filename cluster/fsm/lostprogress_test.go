package fsm

import "testing"

func TestLostProgress(t *testing.T) {
	tests := []struct {
		msg          string
		copied, past uint64
		ok           bool
	}{
		{"owner n2 lost: lease expired (no renewal for 1.5s); it had copied 314572800 bytes, 12582912 past its last checkpoint", 314572800, 12582912, true},
		{"owner n2 lost: lease expired (no renewal for 1.5s)", 0, 0, false},
		{"owner n2 lost; it had copied many bytes", 0, 0, false},
	}
	for _, tt := range tests {
		copied, past, ok := LostProgress(tt.msg)
		if copied != tt.copied || past != tt.past || ok != tt.ok {
			t.Errorf("LostProgress(%q) = %d, %d, %v; want %d, %d, %v", tt.msg, copied, past, ok, tt.copied, tt.past, tt.ok)
		}
	}
}
