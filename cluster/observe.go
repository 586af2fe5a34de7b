package cluster

import (
	"sync"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Applied is one command as this node's state machine applied it.
type Applied struct {
	Index uint64
	// Command is nil when a snapshot from the leader replaced the whole
	// state at Index: an observer must then re-read what it keeps.
	Command *ferryv1.Command
	Result  fsm.Result
}

// OnApply calls fn after each command this node's state machine applies,
// in log order, on the apply loop: so an observer that keeps something
// derived from the state (the iSCSI target's reservations, say) is never
// behind the state machine by more than the command being applied, and
// sees each command's own outcome (a Result is not kept in the state). fn
// must return quickly and must not propose or wait for the apply loop. The
// returned function stops the calls (none is made once it returns); it
// must not be called from fn.
func (n *Node) OnApply(fn func(Applied)) (stop func()) { return n.observers.add(fn) }

// applyObservers are the OnApply functions; the zero value has none.
type applyObservers struct {
	mu   sync.RWMutex
	next int
	fns  map[int]func(Applied)
}

func (o *applyObservers) add(fn func(Applied)) func() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fns == nil {
		o.fns = make(map[int]func(Applied))
	}
	id := o.next
	o.next++
	o.fns[id] = fn
	return func() {
		o.mu.Lock()
		delete(o.fns, id)
		o.mu.Unlock()
	}
}

func (o *applyObservers) call(a Applied) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, fn := range o.fns {
		fn(a)
	}
}
