package grpcapi

import (
	"os"
	"path/filepath"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// canonicalPath is the one spelling of an existing file the registry keeps:
// absolute, with every symlink (of the file and of its directories)
// resolved, so that fences, which sit beside a device's path, are found by
// every node under one name.
func canonicalPath(path string) (string, error) {
	p, err := filepath.EvalSymlinks(filepath.Clean(path))
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// canonicalNewPath is canonicalPath for a file about to be created: its
// directory must exist, and is resolved; the name is kept as given (a
// dangling symlink there is refused, as O_EXCL would refuse it).
func canonicalNewPath(path string) (string, error) {
	dir, err := canonicalPath(filepath.Dir(filepath.Clean(path)))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(path)), nil
}

// identify returns what the file at path is, whatever names it: its
// canonical path and its identity. A directory is identified like a file
// (a library is one).
func identify(path string) (string, *ferryv1.FileIdentity, error) {
	canon, err := canonicalPath(path)
	if err != nil {
		return "", nil, err
	}
	info, err := os.Stat(canon)
	if err != nil {
		return "", nil, err
	}
	// Without an identity (a system that has none) the canonical path
	// alone tells devices apart.
	id, _ := fileIdentity(info)
	return canon, id, nil
}
