package library

import (
	"fmt"
	"strconv"
	"strings"
)

// ValidBarcode checks an LTO-style barcode: six upper-case letters or
// digits (the volume serial), then "L" and the LTO generation 1–9, as in
// A00001L9.
func ValidBarcode(b string) error {
	bad := func(why string) error {
		return &Error{Err: ErrInvalidBarcode, Msg: fmt.Sprintf("barcode %q: %s (want six upper-case letters or digits, L and a generation digit, like A00001L9)", b, why)}
	}
	if len(b) != 8 {
		return bad(fmt.Sprintf("%d characters, not 8", len(b)))
	}
	for i := range 6 {
		c := b[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return bad(fmt.Sprintf("character %d is %q", i+1, c))
		}
	}
	if b[6] != 'L' {
		return bad(fmt.Sprintf("media type %q is not L", b[6]))
	}
	if b[7] < '1' || b[7] > '9' {
		return bad(fmt.Sprintf("generation %q is not 1-9", b[7]))
	}
	return nil
}

// ExpandBarcodes reads a barcode or an inclusive range of them,
// "A00001L9-A00099L9", and returns every barcode it names in order. The
// two ends of a range differ only in the run of digits that ends their
// volume serial (same prefix, same width, same media type and
// generation), and the first is not above the last. A range naming more
// than most barcodes is refused before anything is built, so a typo
// cannot make a million-entry list.
func ExpandBarcodes(spec string, most int) ([]string, error) {
	first, last, isRange := strings.Cut(spec, "-")
	if err := ValidBarcode(first); err != nil {
		return nil, err
	}
	if !isRange {
		return []string{first}, nil
	}
	if err := ValidBarcode(last); err != nil {
		return nil, err
	}
	bad := func(why string) error {
		return &Error{Err: ErrInvalidBarcode, Msg: fmt.Sprintf("barcode range %q: %s", spec, why)}
	}
	at := serialDigits(first)
	if at != serialDigits(last) || first[:at] != last[:at] || first[6:] != last[6:] {
		return nil, bad("the two ends must differ only in the digits that end the volume serial (like A00001L9-A00099L9)")
	}
	if at == 6 {
		return nil, bad("the volume serial must end in digits")
	}
	lo, _ := strconv.Atoi(first[at:6])
	hi, _ := strconv.Atoi(last[at:6])
	switch {
	case lo > hi:
		return nil, bad("the first barcode is above the last")
	case hi-lo+1 > most:
		return nil, bad(fmt.Sprintf("%d barcodes, more than %d", hi-lo+1, most))
	}
	out := make([]string, 0, hi-lo+1)
	for n := lo; n <= hi; n++ {
		out = append(out, fmt.Sprintf("%s%0*d%s", first[:at], 6-at, n, first[6:]))
	}
	return out, nil
}

// serialDigits returns where the run of digits ending a barcode's volume
// serial (its first six characters) begins; 6 when there is none.
func serialDigits(b string) int {
	i := 6
	for i > 0 && '0' <= b[i-1] && b[i-1] <= '9' {
		i--
	}
	return i
}
