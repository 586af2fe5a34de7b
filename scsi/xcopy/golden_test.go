package xcopy

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex golden files")

// checkGolden compares got with testdata/name.hex, a hex dump in which
// everything after '#' on a line is a comment. With -update it rewrites the
// file, 16 bytes a line under the given title.
func checkGolden(t *testing.T, name, title string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".hex")
	if *update {
		var b strings.Builder
		fmt.Fprintf(&b, "# %s\n", title)
		for i := 0; i < len(got); i += 16 {
			end := min(i+16, len(got))
			fmt.Fprintf(&b, "%s  # %d\n", spaced(got[i:end]), i)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readHex(t, path)
	if string(want) != string(got) {
		t.Errorf("%s:\n got %s\nwant %s", path, spaced(got), spaced(want))
	}
}

func spaced(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, " ")
}

func readHex(t *testing.T, path string) []byte {
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
