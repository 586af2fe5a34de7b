package fence

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCluster is the cluster whose fences the tests claim.
const testCluster = "11111111-2222-3333-4444-555555555555"

// newDevice creates a small device image file and returns its path.
func newDevice(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lun0.img")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func openFence(t testing.TB, devicePath string) *Fence {
	t.Helper()
	f, err := Open(devicePath, testCluster)
	if err != nil {
		t.Fatalf("Open(%s): %v", devicePath, err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// storedEpoch reads the fence file directly, without taking any lock.
func storedEpoch(t testing.TB, devicePath string) uint64 {
	t.Helper()
	b, err := os.ReadFile(devicePath + ".fence")
	if err != nil {
		t.Fatal(err)
	}
	r, err := decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return r.Epoch
}

// claimWaiting reports whether some Claim holds the device's turnstile,
// which it does while it waits for writes in flight.
func claimWaiting(t testing.TB, devicePath string) bool {
	t.Helper()
	gate, err := os.Open(devicePath)
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()
	ok, err := flockTry(gate, lockExclusive)
	if err != nil {
		t.Fatal(err)
	}
	return !ok
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
