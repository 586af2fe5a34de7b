package localcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// dialInNetns dials from inside the named network namespace (as created by
// `ip netns add`, under /run/netns). A socket stays in the namespace it was
// created in, so only the dial runs there: on a thread of its own, switched
// into the namespace and back.
func dialInNetns(ctx context.Context, netns, network, addr string) (net.Conn, error) {
	target, err := os.Open(filepath.Join("/run/netns", netns))
	if err != nil {
		return nil, fmt.Errorf("localcluster: network namespace %s: %w", netns, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	own, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("localcluster: own network namespace: %w", err)
	}
	defer own.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("localcluster: enter network namespace %s: %w", netns, err)
	}
	// An IP literal dials on this goroutine, so the socket is made here.
	var d net.Dialer
	conn, dialErr := d.DialContext(ctx, network, addr)
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so Go ends it with this goroutine
		// instead of running other code in the wrong namespace.
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("localcluster: leave network namespace %s: %w", netns, err)
	}
	runtime.UnlockOSThread()
	return conn, dialErr
}
