package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// plainEvery is the least job time between two plain progress lines, so a
// log of a long copy stays readable.
const plainEvery = 2 * time.Second

// Widths of the terminal progress bar, in cells: it shrinks before any
// field is dropped, and goes before the percentage does.
const (
	barMaxWidth = 24
	barMinWidth = 10
)

// progress shows a job while it runs: on a terminal one line redrawn in
// place (bar, percentage, bytes, MiB/s, ETA, as many as fit), otherwise a
// line per change of state and at most one progress line per plainEvery.
// Rates and intervals are measured with the cluster's timestamps (the
// owner's latest report to the leader, or the last committed checkpoint),
// not the client's clock, so they are right even when updates reach the
// client in bursts.
type progress struct {
	w     io.Writer
	width int // of the terminal; 0 for plain lines
	id    string

	seen      bool
	state     ferryv1.JobState
	reason    string
	verifying bool
	base      progressSample // first running sample: the rate's origin
	printedAt time.Time      // job time of the last plain running line
	drawn     bool           // a bar is on screen and needs its newline
	line      string         // the bar line on screen
}

type progressSample struct {
	at    time.Time
	bytes uint64
	ok    bool
}

func newProgress(w io.Writer, width int, id string) *progress {
	return &progress{w: w, width: width, id: id}
}

// sample is the job's latest known progress: what its owner last reported
// to the leader (every lease renewal) when that is ahead, else the last
// committed checkpoint.
func sample(j *ferryv1.Job) progressSample {
	p := j.GetProgress()
	if p.GetLiveAt() != nil && p.GetLiveBytesDone() >= p.GetBytesDone() {
		return progressSample{at: p.GetLiveAt().AsTime(), bytes: p.GetLiveBytesDone(), ok: true}
	}
	if j.GetUpdatedAt() == nil {
		return progressSample{bytes: p.GetBytesDone()}
	}
	return progressSample{at: j.GetUpdatedAt().AsTime(), bytes: p.GetBytesDone(), ok: true}
}

// verifying reports whether j has copied every byte and, asked to verify,
// is re-reading its destination: the last step before it ends.
func verifying(j *ferryv1.Job) bool {
	total := j.GetProgress().GetBytesTotal()
	return j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING && j.GetSpec().GetOptions().GetVerify() &&
		len(j.GetSpec().GetXcopyParameterList()) == 0 && total > 0 && sample(j).bytes >= total
}

// update shows j if it says something new. Terminal states are left to
// finish and to the command's outcome.
func (p *progress) update(j *ferryv1.Job) {
	st, reason := j.GetState(), j.GetStateReason()
	s := sample(j)
	changed := !p.seen || st != p.state || (st != ferryv1.JobState_JOB_STATE_RUNNING && reason != p.reason)
	p.seen, p.state, p.reason = true, st, reason
	if st == ferryv1.JobState_JOB_STATE_RUNNING && !p.base.ok && s.ok {
		p.base = s
	}
	if jobEnded(st) {
		return
	}
	if p.width > 0 {
		p.draw(j)
		return
	}
	if verifying(j) {
		if !p.verifying {
			p.verifying = true
			fmt.Fprintf(p.w, "job %s verifying: every byte copied; re-reading the destination to compare\n", p.id)
		}
		return
	}
	if st == ferryv1.JobState_JOB_STATE_RUNNING {
		if !changed && s.at.Sub(p.printedAt) < plainEvery {
			return
		}
		p.printedAt = s.at
		fmt.Fprintf(p.w, "job %s running: %s\n", p.id, p.stats(j))
		return
	}
	if changed {
		fmt.Fprintf(p.w, "job %s %s: %s\n", p.id, jobStateText(st), orDash(reason))
	}
}

// finish ends the terminal line, drawing a successful job at its end.
func (p *progress) finish(j *ferryv1.Job) {
	if p.width == 0 || !p.drawn {
		return
	}
	if j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED {
		p.draw(j)
	}
	fmt.Fprintln(p.w)
	p.drawn = false
}

// draw replaces the terminal line with j's, no wider than the terminal:
// a wrapped line could not be redrawn in place.
func (p *progress) draw(j *ferryv1.Job) {
	line := p.barLine(j)
	if p.drawn && line == p.line {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.drawn, p.line = true, line
}

// barLine is the terminal line for j, fitted to the terminal's width:
// "[######------------------]  25%  2.0 MiB / 8.0 MiB  2.1 MiB/s  ETA 3s"
// with the bar shrunk, then the bytes, the rate, the bar and the ETA left
// out, in that order, until it fits. While the job does not run the line
// is its state and reason, cut to the width.
func (p *progress) barLine(j *ferryv1.Job) string {
	room := max(p.width-1, 1) // the last column would wrap on some terminals
	switch {
	case verifying(j):
		return fitFields(room, "verifying: every byte copied, re-reading the destination", "verifying")
	case j.GetState() == ferryv1.JobState_JOB_STATE_RUNNING, j.GetState() == ferryv1.JobState_JOB_STATE_SUCCEEDED:
	default:
		return cut(fmt.Sprintf("job %s %s: %s", p.id, jobStateText(j.GetState()), orDash(j.GetStateReason())), room)
	}
	s := sample(j)
	total := j.GetProgress().GetBytesTotal()
	rate := ""
	if r, ok := p.rate(s); ok {
		rate = rateText(r)
	}
	if total == 0 {
		// A tape source's length is unknown until its end is read.
		copied := bytesText(s.bytes) + " copied"
		return fitFields(room, "copying: "+join(copied, rate), "copying: "+copied, copied)
	}
	frac := min(float64(s.bytes)/float64(total), 1)
	pct := fmt.Sprintf("%3.0f%%", frac*100)
	bytes := bytesText(s.bytes) + " / " + bytesText(total)
	eta := ""
	if r, ok := p.rate(s); ok && r > 0 && total > s.bytes {
		eta = "ETA " + etaText(time.Duration(float64(total-s.bytes)/r*float64(time.Second)))
	}
	// Choose the layout by the widest each field can get, known yet or
	// not, so that the bar keeps its width from one redraw to the next.
	type field struct {
		text   string
		widest int
	}
	fPct, fBytes := field{pct, 4}, field{bytes, len("1023.9 KiB / ") + len(bytesText(total))}
	fRate, fETA := field{rate, len("9999.9 MiB/s")}, field{eta, len("ETA 99m59s")}
	for _, layout := range [][]field{
		{fPct, fBytes, fRate, fETA},
		{fPct, fRate, fETA},
		{fPct, fETA},
	} {
		reserved := 0
		var texts []string
		for _, f := range layout {
			reserved += f.widest + 2
			texts = append(texts, f.text)
		}
		if cells := room - reserved - 1; cells >= barMinWidth {
			cells = min(cells, barMaxWidth)
			filled := int(frac * float64(cells))
			return "[" + strings.Repeat("#", filled) + strings.Repeat("-", cells-filled) + "] " + join(texts...)
		}
	}
	return fitFields(room, strings.TrimSpace(join(pct, eta)), strings.TrimSpace(pct))
}

// fitFields returns the first of lines that fits in room cells, or the
// last one cut to room.
func fitFields(room int, lines ...string) string {
	for _, l := range lines {
		if len([]rune(l)) <= room {
			return l
		}
	}
	return cut(lines[len(lines)-1], room)
}

// cut shortens s to at most n runes.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// join puts the non-empty fields together, two spaces apart.
func join(fields ...string) string {
	var out []string
	for _, f := range fields {
		if f != "" {
			out = append(out, f)
		}
	}
	return strings.Join(out, "  ")
}

// stats is "1.0 MiB of 4.0 MiB (25%), 12.3 MiB/s, ETA 3s" for plain lines;
// the parts not known yet are left out.
func (p *progress) stats(j *ferryv1.Job) string {
	smp := sample(j)
	total, done := j.GetProgress().GetBytesTotal(), smp.bytes
	var s string
	if total > 0 {
		s = fmt.Sprintf("%s of %s (%.0f%%)", bytesText(done), bytesText(total), float64(done)*100/float64(total))
	} else {
		s = bytesText(done) + " copied"
	}
	rate, ok := p.rate(smp)
	if !ok {
		return s
	}
	s += ", " + rateText(rate)
	if total > done && rate > 0 {
		s += ", ETA " + etaText(time.Duration(float64(total-done)/rate*float64(time.Second)))
	}
	return s
}

// rate is bytes per second from the first running sample to s, if
// measurable.
func (p *progress) rate(s progressSample) (float64, bool) {
	if !p.base.ok || !s.ok {
		return 0, false
	}
	dt := s.at.Sub(p.base.at)
	if dt <= 0 || s.bytes < p.base.bytes {
		return 0, false
	}
	return float64(s.bytes-p.base.bytes) / dt.Seconds(), true
}

// rateText is a rate in the units the flags use: "12.3 MiB/s".
func rateText(bytesPerSecond float64) string {
	return fmt.Sprintf("%.1f MiB/s", bytesPerSecond/(1<<20))
}

// etaText is a remaining time to the second: "45s", "3m05s", "2h07m".
func etaText(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
}

func jobEnded(s ferryv1.JobState) bool {
	switch s {
	case ferryv1.JobState_JOB_STATE_SUCCEEDED, ferryv1.JobState_JOB_STATE_FAILED, ferryv1.JobState_JOB_STATE_CANCELLED:
		return true
	}
	return false
}
