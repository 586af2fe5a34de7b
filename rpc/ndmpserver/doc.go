// Package ndmpserver makes a Ferry node an NDMP v4 server, so that backup
// applications (DMAs: NetWorker, Commvault, Bareos, Amanda's ndmjob…) can
// drive the cluster's tape libraries: the SCSI service is each library's
// robot (a media changer), the TAPE service its drives, the MOVER service
// streams a data connection to and from a drive, and the DATA service
// backs up and recovers a directory of this node as a tar stream.
//
// A DMA opens a control connection (port 10000 by default), is greeted
// with NOTIFY_CONNECTION_STATUS, sends CONNECT_OPEN for version 4 and
// authenticates (CONNECT_CLIENT_AUTH, MD5 after CONFIG_GET_AUTH_ATTR or
// TEXT; NONE only when the operator allowed it). session.go reads the
// connection's messages in order and dispatch.go hands each to the
// handler its service registered (connect.go, config.go, scsi.go,
// tape.go, mover.go, data.go): the handler answers with a reply body
// whose error field carries the outcome. Streams (mover, data) run in
// goroutines of their own and tell the DMA what happened with posts
// (NOTIFY_MOVER_PAUSED, NOTIFY_DATA_HALTED, LOG_MESSAGE, file history).
//
// Nothing here keeps tape state of its own. The Cluster interface
// (cluster.go) is the node: a robot's MOVE MEDIUM is a Raft entry of the
// same library state copy jobs use, and a TAPE_OPEN records an NDMP
// session holding the drive as a job of kind ndmp, whose writes are fenced
// by its epoch. So a cartridge a DMA loaded is not given to a copy job, a
// cartridge a copy job holds cannot be moved by a DMA, every node's robot
// shows the same inventory, and when the node serving a session dies its
// drive and cartridge go back to the library within one lease (NDMP has no
// reconnect: the DMA sees its connection drop).
//
// Drives are named LIBRARY/INDEX (lib1/0) and robots by their library's
// name, as CONFIG_GET_TAPE_INFO and CONFIG_GET_SCSI_INFO list them.
package ndmpserver
