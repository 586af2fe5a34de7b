package localcluster

import (
	"fmt"
	"net"
)

// Ports are the ports one agent listens on.
type Ports struct {
	GRPC   int
	Gossip int
	HTTP   int
	ISCSI  int
	// NDMP is the node's NDMP port; the agent serves NDMP on it only when
	// given a password (-ndmp-password), as tests that want it do.
	NDMP int
}

// freePorts returns five distinct ports that are free on 127.0.0.1 right
// now, none of them in avoid (ports reserved by stopped nodes of the same
// cluster, which will want them back). The gossip port must be free for both
// TCP and UDP, since memberlist uses both. Every listener stays open until
// all are chosen so that the kernel cannot hand out one port twice.
func freePorts(avoid map[int]bool) (Ports, error) {
	var held []net.Listener
	var heldUDP []net.PacketConn
	defer func() {
		for _, l := range held {
			l.Close()
		}
		for _, p := range heldUDP {
			p.Close()
		}
	}()
	var got []int
	for attempts := 0; len(got) < 5; attempts++ {
		if attempts > 100 {
			return Ports{}, fmt.Errorf("localcluster: no free ports after %d attempts", attempts)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Ports{}, fmt.Errorf("localcluster: pick a free port: %w", err)
		}
		held = append(held, l)
		port := l.Addr().(*net.TCPAddr).Port
		if avoid[port] {
			continue
		}
		udp, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		heldUDP = append(heldUDP, udp)
		got = append(got, port)
	}
	return Ports{GRPC: got[0], Gossip: got[1], HTTP: got[2], ISCSI: got[3], NDMP: got[4]}, nil
}
