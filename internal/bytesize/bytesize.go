// Package bytesize reads byte counts as people write them ("1GiB", "80MB",
// "1.5 MiB"), for the command line and the benchmarks alike, writes them
// back (Format), and defines flags that take them (Int64Var).
package bytesize

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode"
)

// ErrSyntax is what Parse says of text that is not a size at all.
var ErrSyntax = errors.New("want a number of bytes with an optional unit: KiB MiB GiB TiB (powers of 1024) or KB MB GB TB (powers of 1000)")

// unitBytes is the value of a size suffix, case-insensitively: IEC powers
// of 1024, SI powers of 1000, and B (or nothing) for plain bytes.
func unitBytes(unit string) (uint64, bool) {
	switch strings.ToLower(unit) {
	case "", "b":
		return 1, true
	case "kib":
		return 1 << 10, true
	case "mib":
		return 1 << 20, true
	case "gib":
		return 1 << 30, true
	case "tib":
		return 1 << 40, true
	case "pib":
		return 1 << 50, true
	case "kb":
		return 1e3, true
	case "mb":
		return 1e6, true
	case "gb":
		return 1e9, true
	case "tb":
		return 1e12, true
	case "pb":
		return 1e15, true
	}
	return 0, false
}

// Parse reads a byte count such as "4096", "1GiB", "1.5 MiB" or "80MB".
// A fraction is allowed only if it comes to a whole number of bytes, so
// "1.5KiB" is 1536 and "1.3B" is an error.
func Parse(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult, ok := unitBytes(unit)
	if num == "" || !ok || strings.Count(num, ".") > 1 || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") {
		return 0, ErrSyntax
	}
	v, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, ErrSyntax
	}
	v.Mul(v, new(big.Rat).SetInt(new(big.Int).SetUint64(mult)))
	if !v.IsInt() {
		return 0, errors.New("not a whole number of bytes")
	}
	if !v.Num().IsUint64() {
		return 0, errors.New("too large")
	}
	return v.Num().Uint64(), nil
}

// Positive reads a byte count that must be above zero and fit an int64,
// such as the size of a benchmark's data.
func Positive(s string) (int64, error) {
	n, err := Parse(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("size %q: %w", s, err)
	case n == 0:
		return 0, fmt.Errorf("size %q: must be above zero", s)
	case n > math.MaxInt64:
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return int64(n), nil
}

// Format writes n in the largest binary unit that divides it: "64MiB",
// "1GiB", and plain bytes ("1536B") when none does, so that
// Parse(Format(n)) == n.
func Format(n uint64) string {
	for _, u := range []struct {
		name string
		size uint64
	}{{"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d%s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}

// int64Value is a flag.Value for a byte count held in an int64.
type int64Value struct{ p *int64 }

func (v int64Value) String() string {
	if v.p == nil {
		return "0B"
	}
	return Format(uint64(max(*v.p, 0)))
}

func (v int64Value) Set(s string) error {
	n, err := Parse(s)
	if err != nil {
		return err
	}
	if n > math.MaxInt64 {
		return errors.New("too large")
	}
	*v.p = int64(n)
	return nil
}

// Int64Var defines a flag whose value is a byte count with Parse's units
// ("64MiB", "100MB", "4096"), shown in help as Format writes it.
func Int64Var(fs *flag.FlagSet, p *int64, name string, value int64, usage string) {
	*p = value
	fs.Var(int64Value{p}, name, usage)
}
