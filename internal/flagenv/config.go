package flagenv

import (
	"fmt"
	"strconv"
	"strings"
)

// entry is one "key = value" line of a config file.
type entry struct {
	line  int
	key   string
	value string
}

// parseConfig reads the config file format described in the package comment.
// It checks syntax and duplicate keys only; whether a key names a flag is
// up to the caller, which knows the FlagSet.
func parseConfig(text string) ([]entry, error) {
	var entries []entry
	seen := map[string]int{}
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sep := strings.IndexAny(line, "=:")
		if sep < 0 {
			return nil, fmt.Errorf("line %d: want \"name = value\" or \"name: value\", got %q", n, line)
		}
		key := strings.TrimSpace(line[:sep])
		value := strings.TrimSpace(line[sep+1:])
		if key == "" {
			return nil, fmt.Errorf("line %d: missing key before %q", n, line[sep:sep+1])
		}
		if strings.HasPrefix(value, `"`) {
			uq, err := strconv.Unquote(value)
			if err != nil {
				return nil, fmt.Errorf("line %d: key %q: bad quoted value %s: %w", n, key, value, err)
			}
			value = uq
		}
		canon := strings.ReplaceAll(key, "_", "-")
		if prev, ok := seen[canon]; ok {
			return nil, fmt.Errorf("line %d: key %q repeats line %d", n, key, prev)
		}
		seen[canon] = n
		entries = append(entries, entry{line: n, key: key, value: value})
	}
	return entries, nil
}
