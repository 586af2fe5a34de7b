package sense

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/ferry-san/ferry/internal/goldenhex"
)

var update = flag.Bool("update", false, "rewrite testdata/*.hex golden files")

// checkGolden compares got with testdata/name.hex (see goldenhex.Check).
func checkGolden(t *testing.T, name, title string, got []byte) {
	t.Helper()
	goldenhex.Check(t, filepath.Join("testdata", name+".hex"), title, got, *update)
}
