package library

import (
	"errors"
	"slices"
	"testing"
)

func TestExpandBarcodes(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []string
		bad  bool
	}{
		{spec: "A00001L9", want: []string{"A00001L9"}},
		{spec: "A00001L9-A00003L9", want: []string{"A00001L9", "A00002L9", "A00003L9"}},
		{spec: "AB0098L8-AB0101L8", want: []string{"AB0098L8", "AB0099L8", "AB0100L8", "AB0101L8"}},
		{spec: "000009L9-000010L9", want: []string{"000009L9", "000010L9"}},
		{spec: "A00005L9-A00005L9", want: []string{"A00005L9"}},
		{spec: "A00003L9-A00001L9", bad: true},    // backwards
		{spec: "A00001L9-B00002L9", bad: true},    // other prefix
		{spec: "A00001L9-A00002L8", bad: true},    // other generation
		{spec: "A0000AL9-A0000BL9", bad: true},    // no digits to count
		{spec: "A00001L9-A99999L9", bad: true},    // more than most
		{spec: "a00001L9", bad: true},             // lower case
		{spec: "A00001L9-", bad: true},            // half a range
		{spec: "A00001L9-A00002L9-A3", bad: true}, // two dashes
	} {
		got, err := ExpandBarcodes(tc.spec, 1000)
		if tc.bad {
			if !errors.Is(err, ErrInvalidBarcode) {
				t.Errorf("ExpandBarcodes(%q) = %v, %v; want ErrInvalidBarcode", tc.spec, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ExpandBarcodes(%q) = %v, %v; want %v", tc.spec, got, err, tc.want)
		}
	}
}

// FuzzExpandBarcodes: pool requests bring ranges over the network; any
// input gives barcodes that are all valid, or an error, never a panic.
func FuzzExpandBarcodes(f *testing.F) {
	for _, s := range []string{"A00001L9", "A00001L9-A00099L9", "Z-", "-", "A00001L9-A00001L9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := ExpandBarcodes(spec, 500)
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > 500 {
			t.Fatalf("%q: %d barcodes", spec, len(got))
		}
		for _, b := range got {
			if err := ValidBarcode(b); err != nil {
				t.Fatalf("%q gave %v", spec, err)
			}
		}
	})
}
