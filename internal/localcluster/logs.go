package localcluster

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"
)

// Tail returns the last lines of the node's log file.
func (c *Cluster) Tail(name string, lines int) (string, error) {
	n, err := c.Node(name)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(n.LogPath)
	if err != nil {
		return "", fmt.Errorf("localcluster: read log: %w", err)
	}
	return lastLines(data, lines), nil
}

// Tails returns the last lines of every node's log, each under a header; for
// printing when a test fails.
func (c *Cluster) Tails(lines int) string {
	var b strings.Builder
	for _, name := range c.Names() {
		fmt.Fprintf(&b, "----- %s: last %d log lines -----\n", name, lines)
		tail, err := c.Tail(name, lines)
		if err != nil {
			fmt.Fprintf(&b, "(%v)\n", err)
			continue
		}
		b.WriteString(tail)
	}
	return b.String()
}

func lastLines(data []byte, n int) string {
	data = bytes.TrimRight(data, "\n")
	for i := len(data) - 1; i >= 0; i-- {
		if data[i] == '\n' {
			n--
			if n == 0 {
				return string(data[i+1:]) + "\n"
			}
		}
	}
	if len(data) == 0 {
		return ""
	}
	return string(data) + "\n"
}

// LogTime reads the time= field of an agent's log line (slog text).
func LogTime(line string) (time.Time, error) {
	for f := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(f, "time="); ok {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return time.Time{}, fmt.Errorf("log line %q: time: %w", line, err)
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("log line %q has no time", line)
}
