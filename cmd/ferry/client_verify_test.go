package main

import (
	"strings"
	"testing"
)

func TestVerifyGolden(t *testing.T) {
	addr := startDataFake(t, &dataFake{})
	tests := []struct {
		golden string
		args   []string
	}{
		{"verify_same", []string{"verify", "disk:db01", "disk:db02"}},
		{"verify_tape_naa", []string{"verify", "disk:db01@0+8192", "tape:naa.3f00000000000004#1"}},
		{"verify_differ", []string{"verify", "disk:db01", "disk:db03"}},
		{"verify_json", []string{"verify", "disk:db01", "disk:db03", "-o", "json"}},
		{"verify_unknown", []string{"verify", "disk:db01", "disk:nope"}},
		{"verify_bad_endpoint", []string{"verify", "disk:db01", "tape:A00001L9@5"}},
		{"verify_h", []string{"verify", "-h"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", tt.args...)
			checkGolden(t, tt.golden, r.String())
		})
	}
}

// TestVerifyFailureStopsOtherHash checks that a failing side cancels the
// other's read and is the error reported, not the cancellation.
func TestVerifyFailureStopsOtherHash(t *testing.T) {
	addr := startDataFake(t, &dataFake{})
	r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", "verify", "disk:slow", "disk:nope", "-timeout", "1m")
	want := "ferry: hashing disk:nope: not found: no disk named \"nope\"\n"
	if r.code != exitFailure || r.stderr != want {
		t.Errorf("got %v, want exit 1 and %q", r, want)
	}
	if strings.Contains(r.stdout, "sha256") {
		t.Errorf("printed hashes despite the failure: %q", r.stdout)
	}
}
