package devicedirs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestCheck: a path is allowed under an allowed directory however it is
// spelled, refused outside one (through a symlink or .. too) and in, or
// around, a forbidden one; a path not created yet is judged by its
// deepest existing ancestor; no allowed directories allow any path but
// the forbidden.
func TestCheck(t *testing.T) {
	root := t.TempDir()
	san, data, etc := filepath.Join(root, "san"), filepath.Join(root, "san", "node"), filepath.Join(root, "etc")
	for _, d := range []string{san, data, etc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(etc, "shadow"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(etc, "shadow"), filepath.Join(san, "escape.img")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(san, filepath.Join(root, "link-to-san")); err != nil {
		t.Fatal(err)
	}
	limited, err := New([]string{san}, []string{data})
	if err != nil {
		t.Fatal(err)
	}
	open, err := New(nil, []string{data})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		policy Policy
		path   string
		want   error
	}{
		{"inside", limited, filepath.Join(san, "a.img"), nil},
		{"inside through a link", limited, filepath.Join(root, "link-to-san", "a.img"), nil},
		{"not yet created, inside", limited, filepath.Join(san, "vtl", "lib", "x.tap"), nil},
		{"outside", limited, filepath.Join(etc, "shadow"), ErrOutside},
		{"a link out", limited, filepath.Join(san, "escape.img"), ErrOutside},
		{"..", limited, filepath.Join(san, "..", "etc", "shadow"), ErrOutside},
		{"a sibling with the prefix", limited, filepath.Join(root, "sanity.img"), ErrOutside},
		{"the data directory", limited, filepath.Join(data, "raft.db"), ErrOwnData},
		{"a directory holding the data directory", limited, san, ErrOwnData},
		{"no directories: anywhere", open, filepath.Join(etc, "shadow"), nil},
		{"no directories: never the data", open, filepath.Join(data, "raft.db"), ErrOwnData},
		{"zero policy", Policy{}, filepath.Join(data, "raft.db"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Check(tc.path)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Check(%s) = %v, want %v", tc.path, err, tc.want)
			}
		})
	}
	if _, err := New([]string{filepath.Join(root, "missing")}, nil); err == nil {
		t.Error("New accepted a device directory that does not exist")
	}
}
