package cunit

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Outcome is what really happened to one test.
type Outcome int

// The outcomes.
const (
	Passed Outcome = iota
	Skipped
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Passed:
		return "passed"
	case Skipped:
		return "skipped"
	default:
		return "failed"
	}
}

// Test is one test of a run.
type Test struct {
	// Suite is the suite as the report names it ("CompareAndWrite"; the
	// tool's --test option calls it "SCSI.CompareAndWrite").
	Suite string
	Name  string
	// Outcome is the real outcome: a skip is not a pass.
	Outcome Outcome
	// Reason is the first [SKIPPED] or [FAILED] message the test printed,
	// or the first failed assertion; empty for a pass.
	Reason string
}

// ID is "Suite.Name", as the tool's --test option accepts it after the
// family prefix.
func (t Test) ID() string { return t.Suite + "." + t.Name }

// Run is one program run's tests in report order.
type Run struct {
	Tests []Test
}

// ErrReport is wrapped by Parse's errors.
var ErrReport = errors.New("cunit: unreadable report")

var (
	suiteRE   = regexp.MustCompile(`^Suite: (\S+)`)
	testRE    = regexp.MustCompile(`^\s+Test: (\S+) \.\.\.(.*)$`)
	summaryRE = regexp.MustCompile(`(?m)^\s+tests\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)
	// assertRE is a failed assertion CUnit lists after FAILED.
	assertRE = regexp.MustCompile(`^\s+\d+\. (\S+)\s+- (.*)$`)
)

// Parse reads a CUnit basic-mode report. A test is Skipped when it printed
// a line starting with "[SKIPPED]" or containing one of skipMarkers (for
// the tests of a program that give up without saying [SKIPPED]) and did
// not fail. Parse fails when the report has no test, or when its own
// summary disagrees with the tests read (a report cut short, or a format
// this parser does not know).
func Parse(out []byte, skipMarkers ...string) (Run, error) {
	var (
		run   Run
		suite string
		cur   *Test
	)
	for _, line := range strings.Split(string(out), "\n") {
		if m := suiteRE.FindStringSubmatch(line); m != nil {
			suite, cur = m[1], nil
			continue
		}
		if m := testRE.FindStringSubmatch(line); m != nil {
			run.Tests = append(run.Tests, Test{Suite: suite, Name: m[1]})
			cur = &run.Tests[len(run.Tests)-1]
			line = m[2]
		}
		if cur == nil {
			continue
		}
		text := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(text, "[SKIPPED]") || containsAny(text, skipMarkers):
			if cur.Outcome == Passed {
				cur.Outcome = Skipped
				cur.Reason = strings.TrimSpace(strings.TrimPrefix(text, "[SKIPPED]"))
			}
		case strings.HasPrefix(text, "[FAILED]"):
			// A test may log an expected failure and still pass: only
			// CUnit's verdict below decides.
			if cur.Reason == "" {
				cur.Reason = strings.TrimSpace(strings.TrimPrefix(text, "[FAILED]"))
			}
		case text == "FAILED":
			cur.Outcome = Failed
		case cur.Outcome == Failed && cur.Reason == "":
			if m := assertRE.FindStringSubmatch(line); m != nil {
				// A verbose program's next output may share the line.
				cur.Reason = m[1] + " " + strings.SplitN(m[2], "    ", 2)[0]
			}
		}
	}
	for i := range run.Tests {
		if run.Tests[i].Outcome == Passed {
			run.Tests[i].Reason = ""
		}
	}
	if len(run.Tests) == 0 {
		return run, fmt.Errorf("%w: no test", ErrReport)
	}
	m := summaryRE.FindSubmatch(out)
	if m == nil {
		return run, fmt.Errorf("%w: no run summary (the program stopped early?)", ErrReport)
	}
	ran, _ := strconv.Atoi(string(m[2]))
	failed, _ := strconv.Atoi(string(m[4]))
	_, _, fails := run.Count()
	if ran != len(run.Tests) || failed != fails {
		return run, fmt.Errorf("%w: summary says %d ran and %d failed, read %d and %d", ErrReport, ran, failed, len(run.Tests), fails)
	}
	return run, nil
}

// ParseLibiscsi is Parse for a report of libiscsi's iscsi-test-cu (1.19),
// which should be run with -V: a few of its tests give up quietly unless
// verbose, and ModeSense6.Control-SWP gives up saying only that the SWP
// bit "is not changeable" even then.
func ParseLibiscsi(out []byte) (Run, error) { return Parse(out, "is not changeable") }

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Count returns the real passes, skips and failures.
func (r Run) Count() (passed, skipped, failed int) {
	for _, t := range r.Tests {
		switch t.Outcome {
		case Passed:
			passed++
		case Skipped:
			skipped++
		default:
			failed++
		}
	}
	return passed, skipped, failed
}

// With returns the tests of the outcome.
func (r Run) With(o Outcome) []Test {
	var out []Test
	for _, t := range r.Tests {
		if t.Outcome == o {
			out = append(out, t)
		}
	}
	return out
}

// Suite is one suite's figures.
type Suite struct {
	Name                           string
	Tests, Passed, Skipped, Failed int
}

// Suites sums the run by suite, in report order.
func (r Run) Suites() []Suite {
	var out []Suite
	at := map[string]int{}
	for _, t := range r.Tests {
		i, ok := at[t.Suite]
		if !ok {
			i = len(out)
			at[t.Suite] = i
			out = append(out, Suite{Name: t.Suite})
		}
		s := &out[i]
		s.Tests++
		switch t.Outcome {
		case Passed:
			s.Passed++
		case Skipped:
			s.Skipped++
		default:
			s.Failed++
		}
	}
	return out
}
