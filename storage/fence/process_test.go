package fence

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// The helper process is this test binary run again with helperMode set: a
// real second process, with its own open file descriptions and its own
// death.
const (
	helperMode   = "FENCE_HELPER_MODE"
	helperDevice = "FENCE_HELPER_DEVICE"
	helperEpoch  = "FENCE_HELPER_EPOCH"
	// helperRange, if set ("OFFSET+LENGTH"), makes the helper's Fence one
	// of that range (OpenRange).
	helperRange = "FENCE_HELPER_RANGE"
	holdingLine = "holding"
)

// TestHelperProcess is not a test: it is the second process. "claim" claims
// the device with the epoch; "hold" writes with the epoch and, inside the
// write, says holdingLine and waits for stdin to close (it is killed first).
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperMode)
	if mode == "" {
		t.Skip("run as the helper of another test")
	}
	epoch, err := strconv.ParseUint(os.Getenv(helperEpoch), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var f *Fence
	if r := os.Getenv(helperRange); r != "" {
		var rng Range
		if _, err := fmt.Sscanf(r, "%d+%d", &rng.Offset, &rng.Length); err != nil {
			t.Fatal(err)
		}
		f, err = OpenRange(os.Getenv(helperDevice), testCluster, rng)
	} else {
		f, err = Open(os.Getenv(helperDevice), testCluster)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	switch mode {
	case "claim":
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = f.Claim(ctx, epoch)
	case "hold":
		err = f.Write(epoch, func() error {
			fmt.Println(holdingLine)
			_, err := io.Copy(io.Discard, os.Stdin)
			return err
		})
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// helper returns the command that runs the helper process in mode; the test
// kills and reaps it at cleanup if it is still running.
func helper(t *testing.T, mode, devicePath string, epoch uint64) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		helperMode+"="+mode,
		helperDevice+"="+devicePath,
		helperEpoch+"="+strconv.FormatUint(epoch, 10),
	)
	if os.Getenv("GORACE") == "" {
		// A race-built helper otherwise lingers a second before exiting.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

func TestOtherProcessClaims(t *testing.T) {
	dev := newDevice(t)
	f := openFence(t, dev)
	if err := f.Claim(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if err := f.Write(10, func() error { return nil }); err != nil {
		t.Fatal(err)
	}

	if out, err := helper(t, "claim", dev, 11).CombinedOutput(); err != nil {
		t.Fatalf("helper claim: %v\n%s", err, out)
	}

	called := false
	err := f.Write(10, func() error { called = true; return nil })
	if !errors.Is(err, ErrFenced) || called {
		t.Fatalf("Write after another process claimed = %v, fn called %v; want ErrFenced", err, called)
	}
	if e, err := f.Epoch(); err != nil || e != 11 {
		t.Fatalf("Epoch = %d, %v; want 11", e, err)
	}
	// And a lower claim from another process is refused there.
	out, err := helper(t, "claim", dev, 10).CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte(ErrFenced.Error())) {
		t.Fatalf("helper claim with epoch 10: %v\n%s", err, out)
	}
}

// A stream's new owner on another node (another process) claims its
// range: this process's stale owner of that range is refused from then on,
// its owner of another range keeps writing, and the other process's claim
// of a range overlapping a newer one is refused there.
func TestOtherProcessClaimsARange(t *testing.T) {
	dev := newDevice(t)
	a, b := openRange(t, dev, 0, 4096), openRange(t, dev, 4096, 4096)
	if err := a.Claim(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	if err := b.Claim(context.Background(), 11); err != nil {
		t.Fatal(err)
	}
	claim := func(r string, epoch uint64) ([]byte, error) {
		cmd := helper(t, "claim", dev, epoch)
		cmd.Env = append(cmd.Env, helperRange+"="+r)
		return cmd.CombinedOutput()
	}
	if out, err := claim("0+4096", 20); err != nil {
		t.Fatalf("helper claim of range A: %v\n%s", err, out)
	}
	if writes(t, a, 10) {
		t.Fatal("range A's stale owner wrote after another process took it over")
	}
	if !writes(t, b, 11) {
		t.Fatal("range B's owner was refused by a claim of range A")
	}
	out, err := claim("2048+4096", 15)
	if err == nil || !bytes.Contains(out, []byte(ErrFenced.Error())) {
		t.Fatalf("helper claim of a range overlapping a newer one: %v\n%s", err, out)
	}
	if !writes(t, b, 11) {
		t.Fatal("a refused claim changed the fence")
	}
}

func TestKilledWriterReleasesDevice(t *testing.T) {
	dev := newDevice(t)
	f := openFence(t, dev)
	if err := f.Claim(context.Background(), 1); err != nil {
		t.Fatal(err)
	}

	cmd := helper(t, "hold", dev, 1)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe() // kept open: the helper waits on it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != holdingLine+"\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q, %v\n%s", line, err, stderr.String())
	}

	// The helper is inside its write: a claim waits...
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	claimErr := make(chan error, 1)
	go func() { claimErr <- f.Claim(ctx, 2) }()
	waitFor(t, "the claim to wait", func() bool { return claimWaiting(t, dev) })
	select {
	case err := <-claimErr:
		t.Fatalf("Claim returned %v while another process was writing", err)
	default:
	}
	// ...until the helper dies, without ever leaving its write.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := <-claimErr; err != nil {
		t.Fatalf("Claim after the writer was killed: %v", err)
	}
	if e, err := f.Epoch(); err != nil || e != 2 {
		t.Fatalf("Epoch = %d, %v; want 2", e, err)
	}
}
