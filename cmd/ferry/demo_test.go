package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
