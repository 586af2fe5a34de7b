// Package freeport finds loopback ports for tests that start real nodes.
// A node's gossip (memberlist) listens on one port number for both TCP and
// UDP, so the port must be free for both: net.Listen on port 0 only
// promises TCP.
package freeport

import (
	"errors"
	"fmt"
	"net"
)

// TCPAndUDP returns a loopback port that was free for both TCP and UDP.
// Another process may take it before the caller listens: callers that
// cannot retry should start soon after.
func TCPAndUDP() (int, error) {
	for range 50 {
		tl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("freeport: %w", err)
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		tl.Close()
		if err == nil {
			ul.Close()
			return port, nil
		}
	}
	return 0, errors.New("freeport: no port free for both TCP and UDP after 50 tries")
}
