package tarbackup

import "sync/atomic"

// Progress counts a running backup's or recover's stream bytes. Its methods
// may be called from any goroutine while the operation runs.
type Progress struct {
	processed atomic.Int64
	estimate  atomic.Int64 // total stream bytes expected; 0 while unknown
	estimated atomic.Bool  // the estimate is complete
}

// Processed is the number of stream bytes written (backup) or read
// (recover) so far.
func (p *Progress) Processed() int64 { return p.processed.Load() }

// Remaining estimates the stream bytes still to come; ok is false while no
// estimate is known.
func (p *Progress) Remaining() (n int64, ok bool) {
	est := p.estimate.Load()
	if est == 0 {
		return 0, false
	}
	n = est - p.processed.Load()
	if n < 0 {
		// The tree grew since the estimate, or the estimate was not finished.
		n = 0
	}
	return n, true
}

func (p *Progress) add(n int64) {
	if p != nil {
		p.processed.Add(n)
	}
}

// setEstimate records an estimate of the whole stream's length.
func (p *Progress) setEstimate(n int64, final bool) {
	if p == nil {
		return
	}
	p.estimate.Store(n)
	if final {
		p.estimated.Store(true)
	}
}
