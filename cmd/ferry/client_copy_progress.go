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

// barWidth is the number of cells of the terminal progress bar.
const barWidth = 24

// progress shows a job while it runs: on a terminal one line redrawn in
// place (bar, bytes, MB/s, ETA), otherwise a line per change of state and at
// most one progress line per plainEvery. Rates and intervals are measured
// with the job's own timestamps (updated_at, set by the cluster as it
// commits each checkpoint), not the client's clock, so they are right even
// when updates reach the client in bursts.
type progress struct {
	w     io.Writer
	width int // of the terminal; 0 for plain lines
	id    string

	seen      bool
	state     ferryv1.JobState
	reason    string
	base      progressSample // first running sample: the rate's origin
	printedAt time.Time      // job time of the last plain running line
	drawn     bool           // a bar is on screen and needs its newline
}

type progressSample struct {
	at    time.Time
	bytes uint64
	ok    bool
}

func newProgress(w io.Writer, width int, id string) *progress {
	return &progress{w: w, width: width, id: id}
}

// update shows j if it says something new. Terminal states are left to
// finish and to the command's outcome.
func (p *progress) update(j *ferryv1.Job) {
	st, reason := j.GetState(), j.GetStateReason()
	at := j.GetUpdatedAt().AsTime()
	changed := !p.seen || st != p.state || (st != ferryv1.JobState_JOB_STATE_RUNNING && reason != p.reason)
	p.seen, p.state, p.reason = true, st, reason
	if st == ferryv1.JobState_JOB_STATE_RUNNING && !p.base.ok && j.GetUpdatedAt() != nil {
		p.base = progressSample{at: at, bytes: j.GetProgress().GetBytesDone(), ok: true}
	}
	if jobEnded(st) {
		return
	}
	if p.width > 0 {
		p.draw(j)
		return
	}
	if st == ferryv1.JobState_JOB_STATE_RUNNING {
		if !changed && at.Sub(p.printedAt) < plainEvery {
			return
		}
		p.printedAt = at
		fmt.Fprintf(p.w, "job %s running: %s\n", p.id, p.stats(j, " of "))
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

// draw replaces the terminal line with j's, cut to the terminal's width so
// that it never wraps: a wrapped line could not be redrawn in place.
func (p *progress) draw(j *ferryv1.Job) {
	line := []rune(p.barLine(j))
	if len(line) >= p.width {
		line = line[:max(p.width-1, 0)]
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", string(line))
	p.drawn = true
}

// barLine is the terminal line for j: "[#####-----]  25%  1.0 MiB / 4.0 MiB
// 12.3 MB/s  ETA 3s", or the state and reason while the job does not run.
func (p *progress) barLine(j *ferryv1.Job) string {
	switch j.GetState() {
	case ferryv1.JobState_JOB_STATE_RUNNING, ferryv1.JobState_JOB_STATE_SUCCEEDED:
	default:
		return fmt.Sprintf("job %s %s: %s", p.id, jobStateText(j.GetState()), orDash(j.GetStateReason()))
	}
	total, done := j.GetProgress().GetBytesTotal(), j.GetProgress().GetBytesDone()
	if total == 0 {
		// A tape source's length is unknown until its end is read.
		return "copying: " + p.stats(j, " / ")
	}
	filled := min(barWidth, int(float64(done)/float64(total)*barWidth))
	bar := strings.Repeat("#", filled) + strings.Repeat("-", barWidth-filled)
	return fmt.Sprintf("[%s] %s", bar, p.stats(j, " / "))
}

// stats is "1.0 MiB<sep>4.0 MiB (25%), 12.3 MB/s, ETA 3s"; the parts not
// known yet are left out.
func (p *progress) stats(j *ferryv1.Job, sep string) string {
	total, done := j.GetProgress().GetBytesTotal(), j.GetProgress().GetBytesDone()
	var s string
	if total > 0 {
		s = fmt.Sprintf("%s%s%s (%.0f%%)", bytesText(done), sep, bytesText(total), float64(done)*100/float64(total))
	} else {
		s = bytesText(done) + " copied"
	}
	rate, ok := p.rate(j)
	if !ok {
		return s
	}
	s += fmt.Sprintf(", %.1f MB/s", rate/1e6)
	if total > done && rate > 0 {
		s += ", ETA " + etaText(time.Duration(float64(total-done)/rate*float64(time.Second)))
	}
	return s
}

// rate is bytes per second since the first running sample, if measurable.
func (p *progress) rate(j *ferryv1.Job) (float64, bool) {
	if !p.base.ok || j.GetUpdatedAt() == nil {
		return 0, false
	}
	dt := j.GetUpdatedAt().AsTime().Sub(p.base.at)
	done := j.GetProgress().GetBytesDone()
	if dt <= 0 || done < p.base.bytes {
		return 0, false
	}
	return float64(done-p.base.bytes) / dt.Seconds(), true
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
