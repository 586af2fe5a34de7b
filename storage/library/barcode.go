package library

import "fmt"

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
