package ndmjob

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Shims work around bugs of Debian's ndmjob itself (Amanda 3.5.1, amd64)
// that stop its test-tape run whatever the server answers; each is a small
// LD_PRELOAD library whose source (shims/NAME.c) says what it fixes and how
// the bug was proved.
const (
	// ShimZeroWrite: ndmjob never sends test-tape's zero-length TAPE_WRITE
	// (T-BW #6); its v4 translation fails on g_malloc(0)'s NULL.
	ShimZeroWrite = "zero_write"
	// ShimFillData: ndmjob leaves bytes of its record pattern
	// uninitialised, so T-READ fails at a random record.
	ShimFillData = "fill_data"
	// ShimSkipBWR: T-BWR #23 compares bytes as signed chars and fails
	// against any server; this skips the phase.
	ShimSkipBWR = "skip_bwr"
)

//go:embed shims/*.c
var shimSources embed.FS

// ErrNoCompiler: no C compiler to build the shims with.
var ErrNoCompiler = errors.New("no C compiler (cc)")

// BuildShims compiles the named shims into dir (which must be readable by
// whoever runs ndmjob) and returns the libraries' paths, for LD_PRELOAD.
func BuildShims(ctx context.Context, dir string, names ...string) ([]string, error) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoCompiler, err)
	}
	var out []string
	for _, name := range names {
		src, err := shimSources.ReadFile("shims/" + name + ".c")
		if err != nil {
			return nil, fmt.Errorf("ndmjob shim %q: %w", name, err)
		}
		c := filepath.Join(dir, name+".c")
		if err := os.WriteFile(c, src, 0o644); err != nil {
			return nil, err
		}
		so := filepath.Join(dir, name+".so")
		if b, err := exec.CommandContext(ctx, cc, "-shared", "-fPIC", "-O2", "-o", so, c, "-ldl").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("cc %s: %w\n%s", name, err, b)
		}
		out = append(out, so)
	}
	return out, nil
}
