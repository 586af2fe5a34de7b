package devicedirs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrOutside: the path lies outside the node's device directories.
var ErrOutside = errors.New("outside this node's device directories")

// ErrOwnData: the path is, holds or lies in the node's own data.
var ErrOwnData = errors.New("this node's own data is never a device")

// Policy limits the paths a node opens as devices. Its zero value allows
// any path.
type Policy struct {
	// Allowed are the directories devices may lie under (the agent's
	// -device-dirs), canonical; none means any path, which the agent
	// warns about.
	Allowed []string
	// Forbidden are directories no device may lie under or contain, even
	// when an allowed directory holds them: the node's data directory.
	Forbidden []string
}

// New canonicalizes the directories; each must exist.
func New(allowed, forbidden []string) (Policy, error) {
	var p Policy
	for _, d := range allowed {
		c, err := Canonical(d)
		if err != nil {
			return p, fmt.Errorf("device directory %s: %w", d, err)
		}
		p.Allowed = append(p.Allowed, c)
	}
	for _, d := range forbidden {
		c, err := Canonical(d)
		if err != nil {
			return p, fmt.Errorf("forbidden directory %s: %w", d, err)
		}
		p.Forbidden = append(p.Forbidden, c)
	}
	return p, nil
}

// Canonical is the one spelling of an existing path, which the registry
// keeps: absolute, with every symlink (of the file and of its directories)
// resolved, so that fences, which sit beside a device's path, are found by
// every node under one name, and no link escapes a Policy.
func Canonical(path string) (string, error) {
	p, err := filepath.EvalSymlinks(filepath.Clean(path))
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// within says whether path is dir or lies under it.
func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// CheckCanonical refuses a canonical path the policy does not allow.
func (p Policy) CheckCanonical(canon string) error {
	for _, f := range p.Forbidden {
		if within(canon, f) || within(f, canon) {
			return fmt.Errorf("%s: %w (%s)", canon, ErrOwnData, f)
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
	return fmt.Errorf("%s: %w (-device-dirs %s)", canon, ErrOutside, strings.Join(p.Allowed, ","))
}

// Check is CheckCanonical for any spelling of a path, which may not exist
// yet (a library directory about to be created, a disk image) or any more:
// its deepest existing ancestor is resolved, the rest kept as given.
// Callers check before they create or open anything, so that a refused
// request leaves nothing behind.
func (p Policy) Check(path string) error {
	rest := ""
	dir := filepath.Clean(path)
	for {
		if c, err := Canonical(dir); err == nil {
			return p.CheckCanonical(filepath.Join(c, rest))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil // nothing exists: the creation reports it
		}
		rest = filepath.Join(filepath.Base(dir), rest)
		dir = parent
	}
}
