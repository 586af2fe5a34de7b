package main

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set by the Makefile's build target with -ldflags "-X main.version=...
// -X main.commit=... -X main.buildDate=..."; a plain "go build" leaves them
// empty and the build info fills in what it can.
var (
	version   string
	commit    string
	buildDate string
)

// versionInfo is what "ferry version" reports.
type versionInfo struct {
	version, commit, commitTime, goVersion, buildDate string
	modified                                          bool
}

// currentVersion reads the linker-set variables and the binary's build
// info: Go records the VCS revision and commit time when it builds from a
// checkout.
func currentVersion() versionInfo {
	v := versionInfo{version: version, commit: commit, buildDate: buildDate, goVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if v.version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if v.commit == "" {
				v.commit = s.Value
			}
		case "vcs.time":
			v.commitTime = s.Value
		case "vcs.modified":
			v.modified = s.Value == "true"
		}
	}
	return v
}

func (v versionInfo) write(w io.Writer) {
	rev := cmp.Or(v.commit, "unknown")
	if v.modified {
		rev += " (with uncommitted changes)"
	}
	if v.commitTime != "" {
		rev += ", committed " + v.commitTime
	}
	fmt.Fprintf(w, "ferry %s\n", cmp.Or(v.version, "devel"))
	fmt.Fprintf(w, "  commit:     %s\n", rev)
	fmt.Fprintf(w, "  go:         %s %s/%s\n", v.goVersion, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "  built:      %s\n", cmp.Or(v.buildDate, "unknown (not built with make build)"))
}

// runVersion prints the version; it takes no arguments.
func runVersion(args []string, stdout, stderr io.Writer) int {
	if code, done := noArgs("version", "Prints Ferry's version, commit, Go version and build date (also: ferry --version).", args, stdout, stderr); done {
		return code
	}
	currentVersion().write(stdout)
	return exitOK
}

// noArgs handles the arguments of a command that takes none: -h prints
// its usage, anything else is a usage error. done is false when there are
// no arguments and the command should run.
func noArgs(name, what string, args []string, stdout, stderr io.Writer) (code int, done bool) {
	if len(args) == 0 {
		return exitOK, false
	}
	if isHelpFlag(args[0]) {
		fmt.Fprintf(stdout, "Usage: ferry %s\n\n%s\n", name, what)
		return exitOK, true
	}
	fmt.Fprintf(stderr, "ferry: %s: unexpected argument %q\n", name, args[0])
	return exitUsage, true
}
