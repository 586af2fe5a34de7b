package localcluster

import (
	"bufio"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
)

// WriteRandomFile creates a file of size pseudo-random bytes (ChaCha8,
// randomly seeded: fast, and as incompressible as real data), for a disk
// LUN to copy, and returns their SHA-256 in hex. An existing file is an
// error, never overwritten.
func WriteRandomFile(path string, size int64) (string, error) {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return "", fmt.Errorf("seed random data: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("create disk file: %w", err)
	}
	defer f.Close()
	rng := rand.NewChaCha8(seed)
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		chunk := buf[:min(left, int64(len(buf)))]
		_, _ = rng.Read(chunk) // never fails
		if _, err := w.Write(chunk); err != nil {
			return "", fmt.Errorf("write disk file: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return "", fmt.Errorf("write disk file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write disk file: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
