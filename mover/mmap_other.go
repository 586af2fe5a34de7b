//go:build !linux

package mover

import "errors"

// mapBuffer is only used on Linux; elsewhere buffers come from the heap.
func mapBuffer(int) (buf, mapping []byte, err error) {
	return nil, nil, errors.New("no huge-page buffers on this platform")
}

func unmapBuffer([]byte) {}
