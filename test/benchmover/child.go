package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/ferry-san/ferry/mover"
	"github.com/ferry-san/ferry/storage/disk"
	"github.com/ferry-san/ferry/storage/tape"
)

// childReport is what a child prints on stdout.
type childReport struct {
	Bytes       int64
	Seconds     float64
	SHA256      string
	Checkpoints int
}

// runChild performs one copy with the mover. The destination exists (a
// fresh image) and the source holds -size bytes.
func runChild(ctx context.Context, o options) error {
	var devs []mover.Device
	var seg mover.Segment
	switch o.kind {
	case "disk-disk", "disk-tape":
		src, err := disk.Open(o.src, disk.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer src.Close()
		devs = append(devs, mover.Device{Name: "src", Block: src})
		if o.kind == "disk-disk" {
			dst, err := disk.Open(o.dst, disk.Options{})
			if err != nil {
				return err
			}
			defer dst.Close()
			devs = append(devs, mover.Device{Name: "dst", Block: dst})
			seg = mover.Segment{Kind: mover.BlockToBlock, Src: 0, Dst: 1, Length: o.size}
		} else {
			dst, err := tape.Open(o.dst, tape.Options{})
			if err != nil {
				return err
			}
			defer dst.Close()
			devs = append(devs, mover.Device{Name: "dst", Tape: dst})
			seg = mover.Segment{Kind: mover.BlockToStream, Src: 0, Dst: 1, Length: o.size, RecordSize: o.record}
		}
	case "tape-disk":
		src, err := tape.Open(o.src, tape.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := disk.Open(o.dst, disk.Options{})
		if err != nil {
			return err
		}
		defer dst.Close()
		devs = []mover.Device{{Name: "src", Tape: src}, {Name: "dst", Block: dst}}
		seg = mover.Segment{Kind: mover.StreamToBlock, Src: 0, Dst: 1, Records: -1}
	default:
		return fmt.Errorf("unknown kind %q", o.kind)
	}
	cfg := mover.DefaultConfig()
	if o.buffers > 0 {
		cfg.Buffers = o.buffers
	}
	if o.bufferSize > 0 {
		cfg.BufferSize = o.bufferSize
	}
	n := 0
	if o.ckpt {
		// What the cluster does with a checkpoint before it proposes it.
		cfg.OnCheckpoint = func(_ context.Context, cp mover.Checkpoint) error {
			n++
			_, err := cp.MarshalBinary()
			return err
		}
	}
	start := time.Now()
	res, err := mover.Run(ctx, cfg, mover.Plan{Segments: []mover.Segment{seg}}, devs, nil)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(childReport{
		Bytes: res.Bytes, Seconds: time.Since(start).Seconds(), SHA256: fmt.Sprintf("%x", res.SHA256), Checkpoints: n,
	})
}
