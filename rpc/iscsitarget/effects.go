package iscsitarget

import (
	"context"
	"encoding/hex"
	"sync"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/scsi/pr"
	"github.com/ferry-san/ferry/scsi/sbc"
)

// effectQueue hands the device server, in log order and off the apply
// loop, the Effects of the reservation commands other nodes proposed:
// aborting a preempted nexus's tasks waits for them, and one of them may
// itself be waiting for the apply loop (a reservation command being
// proposed).
type effectQueue struct {
	srv deliverer

	mu      sync.Mutex
	pending []queuedEffect
	wake    chan struct{}
}

type queuedEffect struct {
	id     sbc.Identity
	effect pr.Effect
}

func newEffectQueue(srv deliverer) *effectQueue {
	return &effectQueue{srv: srv, wake: make(chan struct{}, 1)}
}

// push queues the Effect of a command on disk d, if it has any.
func (q *effectQueue) push(d *ferryv1.Disk, e pr.Effect) {
	if len(e.Abort) == 0 && len(e.Attention) == 0 {
		return
	}
	naa, _ := hex.DecodeString(d.GetNaa())
	q.mu.Lock()
	q.pending = append(q.pending, queuedEffect{id: sbc.Identity{NAA: naa, Serial: d.GetName()}, effect: e})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *effectQueue) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = nil
		q.mu.Unlock()
		for _, item := range batch {
			q.srv.Deliver(item.id, item.effect)
		}
	}
}
