// Package scheduler decides, on the Raft leader, which node runs which copy
// job, and takes a job away from an owner that is gone.
//
// Three parts, each in its own file:
//
//   - Placement (place.go, reach.go) is pure decision code: given a view of
//     nodes, jobs and tape libraries it returns where each queued job runs
//     (and into which drives its cartridges go) or why it waits, and where a
//     lost job is taken over. It is tested without sockets or clocks.
//   - Pools (pool.go): a queued copy to a pool gets its cartridge when it
//     is placed: ChoosePoolCartridge, pure, picks an appendable member
//     with room, else a scratch one, else the one with most room, or says
//     why the copy waits ("pool NAME has no scratch cartridge (...)").
//   - Leases (lease.go): every node that runs jobs renews its lease through
//     the leader (the LeaseService), reporting the jobs it runs. The leader
//     measures each lease from when it received the renewal, on its own
//     monotonic clock; a new leader first grants everyone a full lease from
//     the moment it took over.
//   - The driver (scheduler.go) runs while this node leads: it builds the view
//     from the replicated state, gossip and the lease table, proposes the
//     decisions through Raft (PlaceJobOp, WaitJobsOp) and answers renewals.
//     It does not read the whole state each round: the tracker (track.go)
//     keeps the running jobs and the queued ones a round decides, slim and
//     with their devices resolved (a parked job as its id alone, read
//     again when it wakes), and the device registry, current from the
//     state machine's change feed (fsm.FSM.ChangesSince), reading only
//     the jobs that changed. A round in which nothing placement decides on
//     changed (no job, device, mover, eligibility or lost owner) reads
//     nothing and plans nothing, so a backlog that cannot run costs the
//     leader next to nothing; a wait reason the scheduler recorded itself
//     is no change, nor is a change of a node that runs no jobs.
//   - Waking (wake.go): a round decides only the queued jobs that are new,
//     changed or woken, beside the running ones. A job left waiting is
//     parked under what can end its wait: the devices it uses (a job
//     starting or ending on them, the disk's record), the libraries and
//     cartridges if it needs tapes, and the nodes' load if the nodes were
//     why. A change wakes the jobs parked under it, so a round's work
//     follows what changed, not the size of the backlog; the woken jobs go
//     in their order (priority, then age) like any, so an old job is never
//     overtaken by newer ones that need what it waits for.
//
// Balancing: among the nodes that can run a job, placement picks the one
// that would be done soonest: the bytes it has in flight (what its jobs have
// left, by their owners' latest renewals when newer than the checkpoints,
// plus the job's own) over the rate of the drives it reaches (each library's
// drive rate, View.DriveRates; drives without one weigh alike), then fewest
// running jobs, then name.
//   - Progress (progress.go) answers LeaseService.Progress from the lease
//     table: the bytes each owner reported in its latest renewal, so that
//     clients see copies move between checkpoints without Raft entries.
//
// Fencing: a placement gives the job a new epoch, the Raft index of the
// PlaceJobOp. The state machine refuses checkpoints and completions that
// carry an older epoch, and every device write is checked against the
// highest epoch that device has seen (storage/fence), so an old owner that
// wakes up writes nothing. The owner's side of the lease (stopping I/O
// before the leader can give the job away) lives in cluster/executor.
package scheduler
