package acl

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// Markers around README's role table, in "Securing a cluster".
const (
	roleTableStart = "<!-- role table: made from security/acl's MethodRole; TestREADMERoleTable keeps it so -->\n"
	roleTableEnd   = "<!-- end of role table -->"
)

// roleTable is the Markdown table of the methods each role may call, made
// from methodRoles.
func roleTable() string {
	var b strings.Builder
	b.WriteString("| role | may call, besides everything the roles above it may |\n|---|---|\n")
	for _, r := range []Role{Read, Operator, Admin} {
		byService := map[string][]string{}
		for m, need := range methodRoles {
			if need == r {
				svc, name, _ := strings.Cut(strings.TrimPrefix(m, "/ferry.v1."), "/")
				byService[svc] = append(byService[svc], name)
			}
		}
		var parts []string
		for _, svc := range slices.Sorted(maps.Keys(byService)) {
			parts = append(parts, fmt.Sprintf("%s: %s", svc, strings.Join(slices.Sorted(slices.Values(byService[svc])), ", ")))
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", r, strings.Join(parts, "; "))
	}
	return b.String()
}

// TestREADMERoleTable: the README's table of roles is the one methodRoles
// makes.
func TestREADMERoleTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), roleTableStart)
	got, _, ok2 := strings.Cut(rest, roleTableEnd)
	if !ok || !ok2 {
		t.Fatalf("README.md lacks the role table between %q and %q; it is:\n%s", roleTableStart, roleTableEnd, roleTable())
	}
	if want := roleTable(); got != want {
		t.Fatalf("README.md's role table differs from MethodRole's; it is:\n%s", want)
	}
}
