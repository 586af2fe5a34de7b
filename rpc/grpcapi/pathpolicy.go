package grpcapi

import (
	"fmt"
	"path/filepath"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// PathPolicy limits which files and directories this node registers as
// devices: a caller allowed to register devices must not be able to make a
// LUN of /etc/shadow, or of the node's own Raft log, and then copy over it.
// Paths are compared in their canonical form (symlinks resolved), so that
// no link leads out of an allowed directory or into a forbidden one.
type PathPolicy struct {
	// Allowed are the directories devices may lie under (the agent's
	// -device-dirs); none means any path, which the agent warns about.
	Allowed []string
	// Forbidden are directories no device may lie under or contain, even
	// when an allowed directory holds them: the node's data directory.
	Forbidden []string
}

// NewPathPolicy canonicalizes the directories; each must exist.
func NewPathPolicy(allowed, forbidden []string) (PathPolicy, error) {
	var p PathPolicy
	for _, d := range allowed {
		c, err := canonicalPath(d)
		if err != nil {
			return p, fmt.Errorf("device directory %s: %w", d, err)
		}
		p.Allowed = append(p.Allowed, c)
	}
	for _, d := range forbidden {
		c, err := canonicalPath(d)
		if err != nil {
			return p, fmt.Errorf("forbidden directory %s: %w", d, err)
		}
		p.Forbidden = append(p.Forbidden, c)
	}
	return p, nil
}

// within says whether path is dir or lies under it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// check refuses a canonical path the policy does not allow, naming the
// request's field.
func (p PathPolicy) check(field, canon string) error {
	for _, f := range p.Forbidden {
		if within(canon, f) || within(f, canon) {
			return status.Errorf(codes.PermissionDenied, "%s %s: this node's own data (%s) is never a device", field, canon, f)
		}
	}
	if len(p.Allowed) == 0 {
		return nil
	}
	for _, a := range p.Allowed {
		if within(canon, a) {
			return nil
		}
	}
	return status.Errorf(codes.PermissionDenied, "%s %s: outside this node's device directories (-device-dirs %s)", field, canon, strings.Join(p.Allowed, ","))
}

// checkFuture is check for a path that may not exist yet (a library
// directory about to be created, a disk image): its deepest existing
// ancestor is resolved, the rest kept as given. Checked before anything is
// created, so that a refused request leaves nothing behind.
func (p PathPolicy) checkFuture(field, path string) error {
	rest := ""
	dir := filepath.Clean(path)
	for {
		if c, err := canonicalPath(dir); err == nil {
			return p.check(field, filepath.Join(c, rest))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil // nothing exists: the creation reports it
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}
