// Package fsm is Ferry's replicated state machine: the jobs and the cluster
// membership that every node derives from the committed Raft log.
//
// The package is pure. It does no IO, reads no clock, draws no random numbers
// and starts no goroutines, so that every replica applying the same entries
// reaches byte-identical state. Time comes only from Command.time, the
// proposer's clock, and ordering only from Raft indexes. Bad input (including
// garbage that happens to unmarshal as a Command) is reported as an error in
// the Result, never as a panic, because a panic in the apply loop would take
// every replica down on the same entry.
package fsm
