package cluster

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// describeSelf makes the replicated record of this node say what the node
// says of itself: its addresses, site, reach and whether it runs jobs. The
// record first comes from gossip, when the leader adds the node, and says
// nothing of reach; the scheduler places jobs by the record.
func (n *Node) describeSelf() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-n.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	want := n.nodeInfo()
	for {
		wait := 200 * time.Millisecond
		if have, ok := n.fsm.Node(n.id); ok && proto.Equal(have, want) {
			// Keep checking: a record rewritten by a membership change
			// must not silently lose the node's reach.
			wait = 2 * time.Second
		} else if ok {
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			res, err := n.Propose(pctx, &ferryv1.Command{Op: &ferryv1.Command_SetNode{SetNode: &ferryv1.SetNodeOp{Node: want}}})
			pcancel()
			if err == nil && res.Err == nil {
				n.log.Info("recorded this node's reach", "reach", want.GetReach(), "mover", want.GetMover())
				continue
			}
			if err == nil {
				err = res.Err
			}
			n.log.Debug("recording this node's reach", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
