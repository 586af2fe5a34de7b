package t10

// ASCII renders s in an n-byte, space-padded ASCII field (SPC-4 4.3.1):
// bytes SPC-4 does not allow there (outside 20h-7Eh) become '?', and s is
// cut to n bytes.
func ASCII(s string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		switch {
		case i >= len(s):
			b[i] = ' '
		case s[i] < 0x20 || s[i] > 0x7E:
			b[i] = '?'
		default:
			b[i] = s[i]
		}
	}
	return b
}

// Designator appends one designation descriptor (SPC-4 7.8.6.1): the
// protocol identifier and code set byte, the PIV, association and
// designator type byte, then the designator.
func Designator(b []byte, codeSet, kind byte, value []byte) []byte {
	b = append(b, codeSet, kind, 0, byte(len(value)))
	return append(b, value...)
}
