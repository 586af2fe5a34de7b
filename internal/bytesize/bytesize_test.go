package bytesize

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "4096", want: 4096},
		{in: "512B", want: 512},
		{in: "1KiB", want: 1024},
		{in: "1kib", want: 1024},
		{in: "4 MiB", want: 4 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "8GiB", want: 8 << 30},
		{in: "2TiB", want: 2 << 40},
		{in: "1.5KiB", want: 1536},
		{in: "0.5GiB", want: 1 << 29},
		{in: "1KB", want: 1000},
		{in: "80MB", want: 80e6},
		{in: "1GB", want: 1e9},
		{in: "3TB", want: 3e12},
		{in: " 7 ", want: 7},
		{in: "16EiB", wantErr: "want a number of bytes"},
		{in: "18446744073709551615", want: 1<<64 - 1},
		{in: "18446744073709551616", wantErr: "too large"},
		{in: "20000PiB", wantErr: "too large"},
		{in: "1.3B", wantErr: "not a whole number of bytes"},
		{in: "0.1KiB", wantErr: "not a whole number of bytes"},
		{in: "", wantErr: "want a number of bytes"},
		{in: "GiB", wantErr: "want a number of bytes"},
		{in: "1GX", wantErr: "want a number of bytes"},
		{in: "-1", wantErr: "want a number of bytes"},
		{in: "1..5MiB", wantErr: "want a number of bytes"},
		{in: ".5MiB", wantErr: "want a number of bytes"},
		{in: "5.MiB", wantErr: "want a number of bytes"},
		{in: "1e3", wantErr: "want a number of bytes"},
		{in: "1 G i B", wantErr: "want a number of bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Parse(%q) = %d, %v; want an error saying %q", tt.in, got, err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Fatalf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPositive(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"512MiB", 512 << 20, false},
		{"4096", 4096, false},
		{"0", 0, true},
		{"-1MiB", 0, true},
		{"lots", 0, true},
		{"9999999999GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := Positive(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Positive(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want string
	}{{0, "0B"}, {512, "512B"}, {1536, "1536B"}, {4096, "4KiB"}, {64 << 20, "64MiB"}, {3 << 30, "3GiB"}, {1 << 40, "1TiB"}, {1e9, "1000000000B"}} {
		got := Format(tt.n)
		if got != tt.want {
			t.Errorf("Format(%d) = %q, want %q", tt.n, got, tt.want)
		}
		if back, err := Parse(got); err != nil || back != tt.n {
			t.Errorf("Parse(Format(%d)) = %d, %v", tt.n, back, err)
		}
	}
}

func TestInt64Var(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var n int64
	Int64Var(fs, &n, "checkpoint-bytes", 64<<20, "")
	if got := fs.Lookup("checkpoint-bytes").DefValue; got != "64MiB" {
		t.Errorf("default shown as %q, want 64MiB", got)
	}
	for _, tt := range []struct {
		arg  string
		want int64
		ok   bool
	}{{"1GiB", 1 << 30, true}, {"100MB", 100e6, true}, {"4096", 4096, true}, {"16EiB", 0, false}, {"20000PiB", 0, false}, {"-1", 0, false}, {"lots", 0, false}} {
		n = 0
		err := fs.Set("checkpoint-bytes", tt.arg)
		if (err == nil) != tt.ok || (tt.ok && n != tt.want) {
			t.Errorf("-checkpoint-bytes %s: got %d, %v; want %d (ok %t)", tt.arg, n, err, tt.want, tt.ok)
		}
	}
}
