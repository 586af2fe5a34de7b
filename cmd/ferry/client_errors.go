package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit statuses of the ferry binary.
const (
	exitOK      = 0
	exitFailure = 1 // the server or network reported an error
	exitUsage   = 2 // the command line (or its environment/config) is wrong
	// exitInterrupted is what shells expect of a command stopped by SIGINT
	// (128 + 2), so scripts can tell "interrupted" from "failed".
	exitInterrupted = 130
)

// exitStatus gives the command that returns it an exit status other than
// exitFailure; the error is reported as the one it wraps.
type exitStatus struct {
	error
	code int
}

func (e exitStatus) Unwrap() error { return e.error }

// exitCode is the status a command that failed with err exits with.
func exitCode(err error) int {
	var es exitStatus
	if errors.As(err, &es) {
		return es.code
	}
	return exitFailure
}

// usageError is a mistake in how the command was invoked; it exits with
// exitUsage and a pointer to -h.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// reportError prints err as one or more "ferry: ..." lines. A gRPC status is
// shown as its code and message, followed by one line per field violation of
// an errdetails.BadRequest detail, so a rejected job spec names every bad
// field: "ferry: invalid argument: spec.source.device: required".
func reportError(w io.Writer, err error) {
	for _, line := range describeError(err) {
		fmt.Fprintf(w, "ferry: %s\n", line)
	}
}

func describeError(err error) []string {
	// status.FromError would fold any wrapping text into the message;
	// keep it apart so the code still comes first after it.
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return []string{err.Error()}
	}
	st := se.GRPCStatus()
	var prefix string
	if inner, ok := se.(error); ok && inner != err {
		prefix = strings.TrimSuffix(err.Error(), inner.Error())
	}
	code := prefix + codeText(st.Code())
	var violations []string
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			violations = append(violations, fmt.Sprintf("%s: %s", v.GetField(), v.GetDescription()))
		}
	}
	// Servers often start the message with the code's words, and list the
	// violations in it too; say each thing once.
	msg := strings.TrimPrefix(st.Message(), codeText(st.Code())+": ")
	var lines []string
	if msg != "" && !containsAll(msg, violations) {
		lines = append(lines, code+": "+msg)
	}
	for _, v := range violations {
		lines = append(lines, code+": "+v)
	}
	if len(lines) == 0 {
		lines = append(lines, code)
	}
	return lines
}

// containsAll reports whether s mentions every one of parts (and there is
// at least one).
func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return len(parts) > 0
}

// codeText turns a gRPC code name into words: InvalidArgument becomes
// "invalid argument".
func codeText(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// isUnavailable reports whether err means the node could not answer for now
// (no leader, restarting, unreachable), so the call is worth repeating.
func isUnavailable(err error) bool {
	return status.Code(err) == codes.Unavailable
}
