// Package goldenhex keeps golden byte strings for tests as commented hex
// dumps under testdata/, so that a reviewer can read and annotate the exact
// bytes a wire format produces.
package goldenhex

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
)

// Check compares got with the hex dump at path, in which everything after
// '#' on a line is a comment. With update it rewrites the file instead, 16
// bytes a line under the given title.
func Check(t testing.TB, path, title string, got []byte, update bool) {
	t.Helper()
	if update {
		var b strings.Builder
		fmt.Fprintf(&b, "# %s\n", title)
		for i := 0; i < len(got); i += 16 {
			end := min(i+16, len(got))
			fmt.Fprintf(&b, "%s  # %d\n", Spaced(got[i:end]), i)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := Read(t, path)
	if string(want) != string(got) {
		t.Errorf("%s:\n got %s\nwant %s", path, Spaced(got), Spaced(want))
	}
}

// Spaced renders bytes as space-separated hex pairs.
func Spaced(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, " ")
}

// Read decodes the hex dump at path.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	var digits strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}
