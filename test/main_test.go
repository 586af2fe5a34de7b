// Package test holds Ferry's multi-process integration tests: they build the
// real ferry binary once, run clusters of `ferry agent` processes on
// loopback through internal/localcluster, crash and restart them, and check
// what clients were promised against what the cluster holds.
package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binaryEnv names a prebuilt ferry binary to test instead of building one.
const binaryEnv = "FERRY_BINARY"

// ferryBinary is the binary every test runs; TestMain sets it.
var ferryBinary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if bin := os.Getenv(binaryEnv); bin != "" {
		ferryBinary = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ferry-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "test: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ferryBinary = filepath.Join(dir, "ferry")
	args := []string{"build", "-o", ferryBinary}
	if raceBuild {
		// Under -race the agents run under the detector too, and stop at
		// the first race: the test that started them then fails with the
		// report in the node's log tail. A binary built with -race also
		// sleeps a second as it exits unless told not to, and the tests
		// run the CLI hundreds of times.
		args = append(args, "-race")
		if os.Getenv("GORACE") == "" {
			os.Setenv("GORACE", "halt_on_error=1 atexit_sleep_ms=0")
		}
	}
	build := exec.Command("go", append(args, "../cmd/ferry")...)
	build.Stdout = os.Stderr
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "test: go build ../cmd/ferry:", err)
		return 1
	}
	return m.Run()
}
