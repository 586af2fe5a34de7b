package cunit

import (
	"fmt"
	"strings"
)

// Table renders runs of the same program against several targets, named
// by names, as a Markdown table: one row per suite (in the first run's
// order, then any suite only a later run has), with each target's real
// passes, skips and failures, and a total row.
func Table(names []string, runs []Run) string {
	var b strings.Builder
	b.WriteString("| suite | tests |")
	for _, n := range names {
		fmt.Fprintf(&b, " %s pass / skip / fail |", n)
	}
	b.WriteString("\n|---|---:|")
	for range names {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	var order []string
	by := make([]map[string]Suite, len(runs))
	seen := map[string]bool{}
	for i, r := range runs {
		by[i] = map[string]Suite{}
		for _, s := range r.Suites() {
			by[i][s.Name] = s
			if !seen[s.Name] {
				seen[s.Name] = true
				order = append(order, s.Name)
			}
		}
	}
	totals := make([]Suite, len(runs))
	for _, name := range order {
		tests := 0
		for i := range runs {
			tests = max(tests, by[i][name].Tests)
		}
		fmt.Fprintf(&b, "| %s | %d |", name, tests)
		for i := range runs {
			s, ok := by[i][name]
			if !ok {
				b.WriteString(" — |")
				continue
			}
			fmt.Fprintf(&b, " %d / %d / %d |", s.Passed, s.Skipped, s.Failed)
			totals[i].Tests += s.Tests
			totals[i].Passed += s.Passed
			totals[i].Skipped += s.Skipped
			totals[i].Failed += s.Failed
		}
		b.WriteString("\n")
	}
	b.WriteString("| **all** | |")
	for _, t := range totals {
		fmt.Fprintf(&b, " **%d / %d / %d** |", t.Passed, t.Skipped, t.Failed)
	}
	b.WriteString("\n")
	return b.String()
}
