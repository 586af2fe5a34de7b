// Package executor runs the copy jobs a node owns: it claims them through the
// replicated log, opens their registered devices, drives the mover, commits
// its checkpoints with the job's fencing epoch, and records the outcome. The
// mover and the devices know nothing of Raft; this package is the seam.
package executor
