package task

import (
	"errors"
	"sync"
)

// ErrAborted is returned by Gate.Commit for a task that task management
// aborted: the device server answers TASK ABORTED and leaves the medium
// alone.
var ErrAborted = errors.New("task: aborted by task management")

// Gate keeps an aborted task off the medium. The transport aborts the
// task through it, and the device server makes every change to the medium
// through Commit, so that the two are ordered by one lock: a change either
// ends before Abort returns or never begins. A context cannot give that:
// checking ctx.Err() and then writing leaves a window between the two.
type Gate struct {
	mu      sync.Mutex
	aborted bool
}

// Abort marks the task aborted. It returns once a change under way has
// ended; no change begins after it.
func (g *Gate) Abort() {
	g.mu.Lock()
	g.aborted = true
	g.mu.Unlock()
}

// Commit runs change unless the task was aborted, in which case it returns
// ErrAborted. A nil Gate (a task no one can abort) just runs change.
func (g *Gate) Commit(change func() error) error {
	if g == nil {
		return change()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.aborted {
		return ErrAborted
	}
	return change()
}
