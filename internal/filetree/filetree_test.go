package filetree

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGenerateAndCompare(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	st, err := Generate(src, Spec{Bytes: 4 << 20, Files: 400, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 400 || st.HardLinks < 2 || st.Symlinks < 4 || st.Dirs < 4 || st.Sample == "" || st.Sparse == "" {
		t.Errorf("stats %+v", st)
	}
	if d, err := Compare(src, src, 0); err != nil || len(d) != 0 {
		t.Fatalf("a tree differs from itself: %v %q", err, d)
	}
	// Generate is deterministic.
	again := filepath.Join(dir, "again")
	if _, err := Generate(again, Spec{Bytes: 4 << 20, Files: 400, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if d, err := Compare(src, again, 5); err != nil || len(d) != 0 {
		t.Fatalf("two trees of one seed differ: %v %q", err, d)
	}

	// A copy that keeps everything (GNU tar, as root or not) is the same.
	cp := filepath.Join(dir, "copy")
	if err := os.Mkdir(cp, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", "tar -C "+src+" -cf - . | tar -C "+cp+" -xpf -").CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	if d, err := Compare(src, cp, 0); err != nil || len(d) != 0 {
		t.Fatalf("tar's copy differs: %v %q", err, d)
	}

	// Every kind of damage is named.
	sample := filepath.Join(cp, st.Sample)
	os.Chmod(filepath.Dir(sample), 0o755)
	if err := os.WriteFile(sample, []byte("changed"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	os.Chtimes(filepath.Join(cp, "big.bin"), old, old)
	os.Chmod(filepath.Join(cp, "big.bin"), 0o600)
	os.WriteFile(filepath.Join(cp, "extra"), nil, 0o644)
	os.RemoveAll(filepath.Join(cp, "empty-dir"))
	d, err := Compare(src, cp, 0)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(d, "\n")
	for _, want := range []string{st.Sample + ": ", "big.bin: mtime 1999", "big.bin: mode -rw-------", "extra: not in the original", "empty-dir: missing"} {
		if !strings.Contains(text, want) {
			t.Errorf("differences do not say %q:\n%s", want, text)
		}
	}
	if d, _ := Compare(src, cp, 2); len(d) != 2 {
		t.Errorf("limit 2 gave %d differences", len(d))
	}
}
