package acl

import (
	"fmt"
	"strings"
)

// Role is what a caller may do. The zero Role is None: nothing.
type Role int

const (
	// None may call nothing; a method that needs None does not exist.
	None Role = iota
	// Read may list, get and watch.
	Read
	// Operator may also run backups: copies, tape labels and moves.
	Operator
	// Admin may also change the cluster: devices, members, ACLs, keys.
	Admin
)

var roleNames = [...]string{None: "none", Read: "read", Operator: "operator", Admin: "admin"}

// String is the role's name as the CLI and the API spell it.
func (r Role) String() string {
	if r < None || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// Allows reports whether a caller holding r may call a method needing need.
func (r Role) Allows(need Role) bool { return need > None && r >= need }

// ParseRole reads a role's name (read, operator, admin), case-insensitively.
func ParseRole(s string) (Role, error) {
	for r, name := range roleNames {
		if r != int(None) && strings.EqualFold(s, name) {
			return Role(r), nil
		}
	}
	return None, fmt.Errorf("unknown role %q: want read, operator or admin", s)
}
