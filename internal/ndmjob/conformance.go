package ndmjob

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The series each conformance run of ndmjob (Amanda 3.5.1, NDMPv4) goes
// through, in order: ndma_ctst_tape.c, ndma_ctst_mover.c, ndma_ctst_data.c.
var (
	TapeSeries  = []string{"T-OC", "T-BGS", "T-BW", "T-BR", "T-BWR", "T-WRITE", "T-READ", "T-MTIO"}
	MoverSeries = []string{"M-IDLE", "M-LISTEN", "M-LISTEN/bogus-args", "M-LISTEN/not-open", "M-LISTEN/tape-ro", "M-LISTEN/tape-rw"}
	DataSeries  = []string{"D-IDLE", "D-LISTEN", "D-LISTEN/bogus-args"}
)

// Outcome is how ndmjob judged one step.
type Outcome int

// The outcomes. ndmjob calls a step whose reply was another error than
// the one expected "Almost" (a warning) and stops the run there, as it
// does on a failure.
const (
	Passed Outcome = iota
	Warned
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Passed:
		return "passed"
	case Warned:
		return "warned"
	default:
		return "failed"
	}
}

// Step is one numbered step of a series.
type Step struct {
	Number  int
	Outcome Outcome
	// What is the call and the error it expected
	// ("NDMP4_TAPE_OPEN/NDMP9_NO_ERR").
	What string
	// Message is what ndmjob said went wrong ("got NDMP9_NO_ERR (error
	// expected)"); empty for a pass.
	Message string
	// Notes are the other lines ndmjob printed about this step before its
	// verdict: what it expected, the agent's error, the check it made.
	Notes []string
}

// Series is one test series of a run ("T-BW -- Tape Write Basics").
type Series struct {
	Name        string
	Description string
	// Status is ndmjob's verdict on the series: "Passed", "Almost",
	// "Failed" or "Whiffed" (no step passed) when it printed its closing
	// line; otherwise ParseTest's: "Failed" or "Almost" at the step that
	// stopped the run, "Unfinished" when the output just ends (ndmjob
	// killed, the connection lost without a verdict).
	Status string
	// Closed says whether ndmjob printed the series' closing line.
	Closed                  bool
	Pass, Warn, Fail, Total int
	Steps                   []Step
}

// Failures are the steps of the series that did not pass.
func (s Series) Failures() []Step {
	var out []Step
	for _, st := range s.Steps {
		if st.Outcome != Passed {
			out = append(out, st)
		}
	}
	return out
}

// Final is a run's FINAL line: "FINAL test-tape Passed -- pass=… warn=…
// fail=… (total …)".
type Final struct {
	Program                 string
	Status                  string
	Pass, Warn, Fail, Total int
}

// Report is one conformance run.
type Report struct {
	Series []Series
	// Final is nil when ndmjob stopped before its FINAL line.
	Final *Final
	// Notes are the session's own lines (SESS, errors on stderr, lines of
	// no known shape), for a reader to see why a run went nowhere.
	Notes []string
}

// ErrNotPassed is wrapped by Report.Check when a run did not pass.
var ErrNotPassed = errors.New("ndmjob: conformance run did not pass")

var (
	seriesOpenRE  = regexp.MustCompile(`^Test (\S+) -- (.*)$`)
	seriesCloseRE = regexp.MustCompile(`^Test (\S+) (Passed|Almost|Failed|Whiffed) -- pass=(\d+) warn=(\d+) fail=(\d+) \(total (\d+)\)$`)
	finalRE       = regexp.MustCompile(`^FINAL (\S+) (Passed|Almost|Failed|Whiffed) -- pass=(\d+) warn=(\d+) fail=(\d+) \(total (\d+)\)$`)
	stepRE        = regexp.MustCompile(`^(\S+) #(\d+) -- (Passed|Failed|Almost) (.*)$`)
	stepNoteRE    = regexp.MustCompile(`^(\S+) #(\d+) (?:-- )?(.*)$`)
)

// ParseTest reads the output of `ndmjob -v -v -o test-tape` (or test-mover,
// test-data). It never fails: output it cannot place goes to Notes, and
// Check says whether the run passed.
func ParseTest(out []byte) Report {
	var (
		r       Report
		cur     *Series
		pending []string // notes of the step to come
	)
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	for _, l := range ParseLog(out) {
		switch l.Tag {
		case "TEST":
			if m := finalRE.FindStringSubmatch(l.Msg); m != nil {
				r.Final = &Final{Program: m[1], Status: m[2], Pass: atoi(m[3]), Warn: atoi(m[4]), Fail: atoi(m[5]), Total: atoi(m[6])}
				continue
			}
			if m := seriesCloseRE.FindStringSubmatch(l.Msg); m != nil && cur != nil && cur.Name == m[1] {
				cur.Closed, cur.Status = true, m[2]
				cur.Pass, cur.Warn, cur.Fail, cur.Total = atoi(m[3]), atoi(m[4]), atoi(m[5]), atoi(m[6])
				continue
			}
			if m := seriesOpenRE.FindStringSubmatch(l.Msg); m != nil {
				r.Series = append(r.Series, Series{Name: m[1], Description: m[2]})
				cur, pending = &r.Series[len(r.Series)-1], nil
				continue
			}
			r.Notes = append(r.Notes, l.Msg)
		case "Test":
			if cur == nil {
				r.Notes = append(r.Notes, l.Msg)
				continue
			}
			if m := stepRE.FindStringSubmatch(l.Msg); m != nil && m[1] == cur.Name {
				// "NDMP4_TAPE_OPEN/NDMP9_NO_ERR got NDMP9_NO_ERR (error
				// expected)": the test's name may have spaces ("mover
				// check/…"), ndmjob's complaint starts with "got".
				what, msg, _ := strings.Cut(m[4], " got ")
				if msg != "" {
					msg = "got " + msg
				}
				st := Step{Number: atoi(m[2]), What: what, Message: msg, Notes: pending}
				switch m[3] {
				case "Passed":
					st.Outcome, st.Message = Passed, ""
				case "Almost":
					st.Outcome = Warned
				default:
					st.Outcome = Failed
				}
				cur.Steps = append(cur.Steps, st)
				pending = nil
				continue
			}
			if l.Msg == "Failure" || strings.HasSuffix(l.Msg, "Cleaning up...") || strings.HasSuffix(l.Msg, "Cleaning up done") {
				continue
			}
			if m := stepNoteRE.FindStringSubmatch(l.Msg); m != nil && m[1] == cur.Name {
				pending = append(pending, "#"+m[2]+" "+m[3])
				continue
			}
			pending = append(pending, l.Msg)
		case "SESS", "":
			r.Notes = append(r.Notes, l.Msg)
		default:
			// The agents' error tattles (#T, #D, #R) and the like
			// belong to the step they interrupted.
			if cur != nil {
				pending = append(pending, strings.TrimSpace(l.Tag+" "+l.Msg))
			} else {
				r.Notes = append(r.Notes, strings.TrimSpace(l.Tag+" "+l.Msg))
			}
		}
	}
	for i := range r.Series {
		s := &r.Series[i]
		if s.Closed {
			continue
		}
		for _, st := range s.Steps {
			switch st.Outcome {
			case Passed:
				s.Pass++
			case Warned:
				s.Warn++
			default:
				s.Fail++
			}
		}
		s.Total = len(s.Steps)
		switch {
		case s.Fail > 0:
			s.Status = "Failed"
		case s.Warn > 0:
			s.Status = "Almost"
		default:
			s.Status = "Unfinished"
		}
	}
	// Lines after the last verdict (a lost connection) explain an
	// unfinished series: keep them with its last step.
	if n := len(r.Series); n > 0 && len(pending) > 0 {
		s := &r.Series[n-1]
		if !s.Closed {
			s.Steps = append(s.Steps, Step{Number: len(s.Steps) + 1, Outcome: Failed, What: "(no verdict)", Message: "ndmjob stopped", Notes: pending})
			s.Fail++
			s.Total++
			s.Status = "Failed"
		}
	}
	return r
}

// Get returns the named series, or false.
func (r Report) Get(name string) (Series, bool) {
	for _, s := range r.Series {
		if s.Name == name {
			return s, true
		}
	}
	return Series{}, false
}

// Missing names the series of want that the run never started.
func (r Report) Missing(want []string) []string {
	var out []string
	for _, name := range want {
		if _, ok := r.Get(name); !ok {
			out = append(out, name)
		}
	}
	return out
}

// Check returns nil when the run reached its FINAL line Passed with no
// failure or warning and passed every series of want; otherwise an error
// wrapping ErrNotPassed that names every failed step with ndmjob's words
// and every series not reached.
func (r Report) Check(want []string) error {
	var problems []string
	for _, s := range r.Series {
		if s.Status == "Passed" && s.Fail == 0 && s.Warn == 0 {
			continue
		}
		if fails := s.Failures(); len(fails) > 0 {
			for _, st := range fails {
				problems = append(problems, StepText(s.Name, st))
			}
		} else {
			problems = append(problems, fmt.Sprintf("%s: %s (pass=%d warn=%d fail=%d)", s.Name, s.Status, s.Pass, s.Warn, s.Fail))
		}
	}
	if missing := r.Missing(want); len(missing) > 0 {
		problems = append(problems, "not reached: "+strings.Join(missing, ", "))
	}
	switch {
	case r.Final == nil:
		problems = append(problems, "no FINAL line")
		if len(r.Series) == 0 && len(r.Notes) > 0 {
			problems = append(problems, "ndmjob said: "+strings.Join(lastN(r.Notes, 5), " | "))
		}
	case r.Final.Status != "Passed" || r.Final.Fail != 0 || r.Final.Warn != 0:
		problems = append(problems, fmt.Sprintf("FINAL %s %s -- pass=%d warn=%d fail=%d", r.Final.Program, r.Final.Status, r.Final.Pass, r.Final.Warn, r.Final.Fail))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n  %s", ErrNotPassed, strings.Join(problems, "\n  "))
}

// StepText renders a step that did not pass as one line: series, number,
// ndmjob's verdict and the notes that led to it.
func StepText(series string, st Step) string {
	s := fmt.Sprintf("%s #%d %s %s %s", series, st.Number, st.Outcome, st.What, st.Message)
	if len(st.Notes) > 0 {
		// The lines just before the verdict; a verbose run prints many.
		s += " [" + strings.Join(lastN(st.Notes, 6), "; ") + "]"
	}
	return strings.TrimSpace(s)
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Table renders conformance runs of the same program against several
// servers, named by names, as a Markdown table: one row per series (want's
// order, then any other series a run had), each server's steps run and
// steps failed (warnings count as failures: ndmjob stops at either), with
// the step that stopped a run, or "not reached".
func Table(names []string, reports []Report, want []string) string {
	order := slices.Clone(want)
	for _, r := range reports {
		for _, s := range r.Series {
			if !slices.Contains(order, s.Name) {
				order = append(order, s.Name)
			}
		}
	}
	var b strings.Builder
	b.WriteString("| series |")
	for _, n := range names {
		fmt.Fprintf(&b, " %s: steps, failed |", n)
	}
	b.WriteString("\n|---|")
	for range names {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, name := range order {
		fmt.Fprintf(&b, "| %s |", name)
		for _, r := range reports {
			s, ok := r.Get(name)
			if !ok {
				b.WriteString(" not reached |")
				continue
			}
			cell := fmt.Sprintf("%d, %d", s.Total, s.Fail+s.Warn)
			if fails := s.Failures(); len(fails) > 0 {
				cell += fmt.Sprintf(" (stops at #%d: %s %s)", fails[0].Number, fails[0].What, fails[0].Message)
			} else if s.Status != "Passed" {
				cell += " (" + s.Status + ")"
			}
			fmt.Fprintf(&b, " %s |", strings.ReplaceAll(cell, "|", `\|`))
		}
		b.WriteString("\n")
	}
	b.WriteString("| **FINAL** |")
	for _, r := range reports {
		if r.Final == nil {
			b.WriteString(" none (stopped) |")
			continue
		}
		fmt.Fprintf(&b, " %s: %d, %d |", r.Final.Status, r.Final.Total, r.Final.Fail+r.Final.Warn)
	}
	b.WriteString("\n")
	return b.String()
}
