package ndmjob

import (
	"strings"
)

// Line is one line ndmjob printed: `TAG "message"`. Lines of another shape
// (a message on stderr, a crash) have an empty Tag and the whole line as
// Msg.
type Line struct {
	Tag string
	Msg string
}

// ParseLog splits ndmjob's output into lines and unquotes each message.
func ParseLog(out []byte) []Line {
	var lines []Line
	for _, raw := range strings.Split(string(out), "\n") {
		raw = strings.TrimRight(raw, "\r")
		if raw == "" {
			continue
		}
		tag, rest, ok := strings.Cut(raw, " ")
		if !ok || !isTag(tag) {
			lines = append(lines, Line{Msg: raw})
			continue
		}
		lines = append(lines, Line{Tag: tag, Msg: unquote(rest)})
	}
	return lines
}

// isTag reports whether s looks like one of ndmjob's log tags: SESS, TEST,
// Test, QR, #T, #D, DA, RA, LM… (letters, digits, '#', '-', '_', at most
// 11 characters; the daemon's carry the pid in parentheses).
func isTag(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r == '#' || r == '-' || r == '_' || r == '(' || r == ')' || r == '.':
		default:
			return false
		}
	}
	return true
}

// unquote undoes Amanda's quote_string_always: the message between double
// quotes with \t \n \r \f \\ and \" escaped. A message that is not quoted
// is returned as it is.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
