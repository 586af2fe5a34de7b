package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShellWords(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"job", "get", "abc"}, "job get abc"},
		{[]string{"copy", "-name", "db01 to A00001L9"}, "copy -name 'db01 to A00001L9'"},
		{[]string{"-name", "it's"}, `-name 'it'\''s'`},
		{[]string{"-name", ""}, "-name ''"},
		{[]string{"tape:A00001L9#1"}, "tape:A00001L9#1"},
	}
	for _, tt := range tests {
		if got := shellWords(tt.args); got != tt.want {
			t.Errorf("shellWords(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

func TestLostBytes(t *testing.T) {
	tests := []struct {
		msg          string
		copied, past uint64
		ok           bool
	}{
		{"owner n2 lost: lease expired (no renewal for 1.5s); it had copied 314572800 bytes, 12582912 past its last checkpoint", 314572800, 12582912, true},
		{"owner n2 lost: lease expired (no renewal for 1.5s)", 0, 0, false},
		{"owner n2 lost; it had copied many bytes", 0, 0, false},
	}
	for _, tt := range tests {
		copied, past, ok := lostBytes(tt.msg)
		if copied != tt.copied || past != tt.past || ok != tt.ok {
			t.Errorf("lostBytes(%q) = %d, %d, %v; want %d, %d, %v", tt.msg, copied, past, ok, tt.copied, tt.past, tt.ok)
		}
	}
}

func TestLogTime(t *testing.T) {
	tests := []struct {
		line    string
		want    time.Time
		wantErr bool
	}{
		{`time=2026-11-25T14:19:15.641Z level=INFO msg="first write after the takeover" job=x`, time.Date(2026, 11, 25, 14, 19, 15, 641e6, time.UTC), false},
		{`level=INFO msg="no time here"`, time.Time{}, true},
		{`time=yesterday level=INFO`, time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := logTime(tt.line)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("logTime(%q) = %v, %v; want %v, error %v", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestIndenter(t *testing.T) {
	tests := []struct {
		writes []string
		want   string
	}{
		{[]string{"a\nb\n"}, "  a\n  b\n"},
		{[]string{"pa", "rt\nnext"}, "  part\n  next\n"},
		{[]string{"\n"}, "  \n"},
		{nil, ""},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		in := &indenter{w: &out, prefix: "  "}
		for _, w := range tt.writes {
			if n, err := in.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", w, n, err)
			}
		}
		in.flush()
		if out.String() != tt.want {
			t.Errorf("writes %q gave %q, want %q", tt.writes, out.String(), tt.want)
		}
	}
}

func TestScrapeMetric(t *testing.T) {
	const page = `# HELP ferry_fenced_writes_total Device writes held back.
# TYPE ferry_fenced_writes_total counter
ferry_fenced_writes_total{reason="epoch"} 1
ferry_fenced_writes_total{reason="lease"} 2
ferry_takeover_latency_seconds_bucket{le="2"} 1
ferry_takeover_latency_seconds_sum 1.5
ferry_takeover_latency_seconds_count 1
ferry_mover_bytes_total 0
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, page)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name       string
		sum, count float64
	}{
		{"ferry_fenced_writes_total", 3, 2},
		{"ferry_takeover_latency_seconds", 1.5, 1},
		{"ferry_mover_bytes_total", 0, 1},
		{"ferry_absent", 0, 0},
	}
	for _, tt := range tests {
		sum, count, err := scrapeMetric(context.Background(), addr, tt.name)
		if err != nil || sum != tt.sum || count != tt.count {
			t.Errorf("scrapeMetric(%s) = %v, %v, %v; want %v, %v", tt.name, sum, count, err, tt.sum, tt.count)
		}
	}
}

func TestWriteRandomFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.img")
	const size = 3<<20 + 512 // not a whole number of buffers
	sum, err := writeRandomFile(path, size)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != size {
		t.Fatalf("wrote %d bytes, want %d", len(data), size)
	}
	if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
		t.Errorf("returned sha256 %s, file has %x", sum, h)
	}
	if bytes.Count(data, []byte{0}) > size/100 {
		t.Error("data does not look random")
	}
	if _, err := writeRandomFile(path, size); err == nil {
		t.Error("overwrote an existing file")
	}
}
