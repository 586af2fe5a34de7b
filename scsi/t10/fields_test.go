package t10

import (
	"bytes"
	"testing"
)

func TestASCII(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"FERRY", 8, "FERRY   "},
		{"A LONG PRODUCT NAME", 16, "A LONG PRODUCT N"},
		{"t\x00b\xff", 4, "t?b?"},
		{"", 2, "  "},
	} {
		if got := string(ASCII(tc.s, tc.n)); got != tc.want {
			t.Errorf("ASCII(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestDesignator(t *testing.T) {
	got := Designator([]byte{9}, 0x02, 0x01, []byte("AB"))
	if want := []byte{9, 0x02, 0x01, 0, 2, 'A', 'B'}; !bytes.Equal(got, want) {
		t.Errorf("% x, want % x", got, want)
	}
}
