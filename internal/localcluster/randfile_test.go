package localcluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteRandomFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.img")
	const size = 3<<20 + 512 // not a whole number of buffers
	sum, err := WriteRandomFile(path, size)
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
	if _, err := WriteRandomFile(path, size); err == nil {
		t.Error("overwrote an existing file")
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
		got, err := LogTime(tt.line)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("LogTime(%q) = %v, %v; want %v, error %v", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}
