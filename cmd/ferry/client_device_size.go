package main

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode"
)

// errSizeSyntax is what parseSize says of text that is not a size at all.
var errSizeSyntax = errors.New("want a number of bytes with an optional unit: KiB MiB GiB TiB (powers of 1024) or KB MB GB TB (powers of 1000)")

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

// parseSize reads a byte count such as "4096", "1GiB", "1.5 MiB" or "80MB".
// A fraction is allowed only if it comes to a whole number of bytes, so
// "1.5KiB" is 1536 and "1.3B" is an error.
func parseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult, ok := unitBytes(unit)
	if num == "" || !ok || strings.Count(num, ".") > 1 || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") {
		return 0, errSizeSyntax
	}
	v, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, errSizeSyntax
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

// parseBandwidth reads a rate such as "80MiB/s"; the "/s" is optional.
func parseBandwidth(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "/S")
	n, err := parseSize(t)
	if errors.Is(err, errSizeSyntax) {
		return 0, errors.New("want bytes per second, such as 80MiB/s or 100MB/s (units KiB MiB GiB TiB or KB MB GB TB)")
	}
	return n, err
}

// sizeFlag is a flag.Value holding a byte count written with parseSize's
// units; set records whether the flag was given at all.
type sizeFlag struct {
	bytes uint64
	set   bool
	parse func(string) (uint64, error)
}

func newSizeFlag() *sizeFlag      { return &sizeFlag{parse: parseSize} }
func newBandwidthFlag() *sizeFlag { return &sizeFlag{parse: parseBandwidth} }

func (f *sizeFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return fmt.Sprint(f.bytes)
}

func (f *sizeFlag) Set(s string) error {
	n, err := f.parse(s)
	if err != nil {
		return err
	}
	f.bytes, f.set = n, true
	return nil
}
