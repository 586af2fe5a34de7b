package main

import (
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
)

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
	st, ok := status.FromError(err)
	if !ok {
		return []string{err.Error()}
	}
	code := codeText(st.Code())
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
	var lines []string
	msg := st.Message()
	// Servers often repeat the only violation as the message; say it once.
	if msg != "" && !(len(violations) == 1 && violations[0] == msg) {
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
