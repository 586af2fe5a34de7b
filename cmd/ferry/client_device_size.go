package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ferry-san/ferry/internal/bytesize"
)

// parseBandwidth reads a rate such as "80MiB/s"; the "/s" is optional.
func parseBandwidth(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "/S")
	n, err := bytesize.Parse(t)
	if errors.Is(err, bytesize.ErrSyntax) {
		return 0, errors.New("want bytes per second, such as 80MiB/s or 100MB/s (units KiB MiB GiB TiB or KB MB GB TB)")
	}
	return n, err
}

// sizeFlag is a flag.Value holding a byte count written with bytesize's
// units; set records whether the flag was given at all.
type sizeFlag struct {
	bytes uint64
	set   bool
	parse func(string) (uint64, error)
}

func newSizeFlag() *sizeFlag      { return &sizeFlag{parse: bytesize.Parse} }
func newBandwidthFlag() *sizeFlag { return &sizeFlag{parse: parseBandwidth} }

func (f *sizeFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return fmt.Sprint(f.bytes)
}

func (f *sizeFlag) Set(s string) error {
	n, err := f.parse(s)
	if err != nil {
		return err
	}
	f.bytes, f.set = n, true
	return nil
}
