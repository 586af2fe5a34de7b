package disk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// lockerChildEnv makes the test binary a child process that locks a range
// of a LUN exclusively, says so, and holds it until killed.
const lockerChildEnv = "FERRY_DISK_LOCKER_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(lockerChildEnv); path != "" {
		l, err := Open(path, Options{})
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		if _, err := l.LockRange(context.Background(), 0, 4096, true); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("locked")
		// Hold the lock until killed; l must stay reachable, or its file
		// is closed by the finalizer and the lock with it.
		io.Copy(io.Discard, os.Stdin)
		runtime.KeepAlive(l)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func newLockLUN(t testing.TB) (string, *LUN) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lun")
	if err := Create(path, 1<<20, 512); err != nil {
		t.Fatal(err)
	}
	return path, openLUN(t, path)
}

func openLUN(t testing.TB, path string) *LUN {
	t.Helper()
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// lockBlocks reports whether LockRange waits: the conflicting lock is held
// throughout, so a lock not granted within the deadline is waiting.
func lockBlocks(t *testing.T, l *LUN, off, n int64, excl bool) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	unlock, err := l.LockRange(ctx, off, n, excl)
	if err == nil {
		unlock()
		return false
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LockRange: %v", err)
	}
	return true
}

// TestLockRangeAcrossDescriptions: two opens of one file are two open file
// descriptions, as two processes' are, and exclude each other.
func TestLockRangeAcrossDescriptions(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("open file description locks are Linux's")
	}
	path, a := newLockLUN(t)
	b := openLUN(t, path)
	unlock, err := a.LockRange(context.Background(), 0, 4096, true)
	if err != nil {
		t.Fatal(err)
	}
	if !lockBlocks(t, b, 512, 512, false) {
		t.Fatal("shared lock granted inside another description's exclusive range")
	}
	if lockBlocks(t, b, 4096, 512, true) {
		t.Fatal("lock of a range next to the exclusive one waited")
	}
	unlock()
	if lockBlocks(t, b, 0, 4096, true) {
		t.Fatal("lock waited after the exclusive range was released")
	}

	// Two shared holders in a, one released: a still holds the other's
	// bytes against b.
	u1, _ := a.LockRange(context.Background(), 0, 8192, false)
	u2, _ := a.LockRange(context.Background(), 4096, 8192, false)
	u1()
	if lockBlocks(t, b, 0, 4096, true) {
		t.Fatal("bytes only the released holder covered stay locked")
	}
	if !lockBlocks(t, b, 8192, 512, true) {
		t.Fatal("the remaining shared holder's bytes were unlocked with the other's")
	}
	u2()
	if lockBlocks(t, b, 0, 1<<20, true) {
		t.Fatal("the whole LUN is not free after every holder left")
	}
}

// TestLockRangeOtherProcess: a lock held by another process holds this one
// off until that process dies.
func TestLockRangeOtherProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("open file description locks are Linux's")
	}
	path, l := newLockLUN(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockerChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The child holds its lock while its stdin is open.
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	if !lockBlocks(t, l, 0, 512, false) {
		t.Fatal("shared lock granted inside another process's exclusive range")
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		unlock, err := l.LockRange(ctx, 0, 512, true)
		if err == nil {
			unlock()
		}
		done <- err
	}()
	cmd.Process.Kill()
	if err := <-done; err != nil {
		t.Fatalf("lock after the holder died: %v", err)
	}
}

func TestLockRangeOutside(t *testing.T) {
	_, l := newLockLUN(t)
	for _, r := range [][2]int64{{-512, 512}, {1 << 20, 1}, {0, 1<<20 + 1}, {0, -1}} {
		if _, err := l.LockRange(context.Background(), r[0], r[1], false); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("LockRange(%d, %d) = %v, want ErrOutOfRange", r[0], r[1], err)
		}
	}
}

// BenchmarkLockRangeShared4K is the cost a 4 KiB write pays for its shared
// lock: the in-process table and two fcntl calls.
func BenchmarkLockRangeShared4K(b *testing.B) {
	_, l := newLockLUN(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		unlock, err := l.LockRange(ctx, int64(i%256)*4096, 4096, false)
		if err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}

// BenchmarkWrite4K and BenchmarkLockedWrite4K put that cost beside the
// write it guards.
func BenchmarkWrite4K(b *testing.B) { benchWrite(b, false) }

func BenchmarkLockedWrite4K(b *testing.B) { benchWrite(b, true) }

func benchWrite(b *testing.B, locked bool) {
	_, l := newLockLUN(b)
	ctx := context.Background()
	buf := make([]byte, 4096)
	for i := 0; b.Loop(); i++ {
		off := int64(i%256) * 4096
		unlock := func() {}
		if locked {
			var err error
			if unlock, err = l.LockRange(ctx, off, 4096, false); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := l.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
		unlock()
	}
}
