package pdu

import (
	"bytes"
	"fmt"
)

// KV is one key=value pair of a text or login data segment.
type KV struct {
	Key, Value string
}

// Limits of RFC 7143 6.1: keys up to 63 bytes, values up to 8192 (the
// binary values of CHAP may be longer, so values are bounded by the data
// segment instead).
const maxKeyLength = 63

// ParseText decodes a data segment of NUL-terminated key=value pairs,
// keeping their order. A missing final NUL is tolerated; an empty pair, a
// pair without '=' or an over-long or empty key is an error.
func ParseText(b []byte) ([]KV, error) {
	var out []KV
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil, nil
	}
	for i, pair := range bytes.Split(b, []byte{0}) {
		k, v, ok := bytes.Cut(pair, []byte{'='})
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: text pair %d %q has no '='", ErrMalformed, i, pair)
		case len(k) == 0 || len(k) > maxKeyLength:
			return nil, fmt.Errorf("%w: text pair %d has a key of %d bytes", ErrMalformed, i, len(k))
		}
		out = append(out, KV{string(k), string(v)})
	}
	return out, nil
}

// AppendText appends the pairs in wire form, each ending in a NUL.
func AppendText(b []byte, kvs []KV) []byte {
	for _, kv := range kvs {
		b = append(b, kv.Key...)
		b = append(b, '=')
		b = append(b, kv.Value...)
		b = append(b, 0)
	}
	return b
}
