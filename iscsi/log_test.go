package iscsi

import (
	"log/slog"
	"testing"
)

// testLogger sends the target's log to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

// discardLogger drops the target's log, for tests whose peer is noisy.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
