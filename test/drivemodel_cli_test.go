package test

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestDriveModelCLI: a library created with a drive model paces a copy to
// its drives (the copy takes at least its load time and size/rate: a
// lower bound, not a timing), and a copy whose source is slower than the
// drive (--bwlimit) makes it stall, as ferry_drive_stalls_total shows.
func TestDriveModelCLI(t *testing.T) {
	c, node := startDataCluster(t)
	f := nodeCLI(t, c, node)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	const (
		size = 32 << 20
		rate = 32 << 20 // bytes/s
		load = time.Second
	)
	f.ok("disk", "create", "--name", "db01", "--size", "32MiB", "--path", path("db01.img"), "--site", "east")
	data := fillRandom(t, path("db01.img"), size)
	f.ok("library", "create", "--name", "libA", "--slots", "4", "--drives", "1", "--dir", path("libA"), "--site", "east",
		"--capacity", "256MiB", "--drive-rate", "32MiB/s", "--load-time", "1s", "--locate-rate", "1GiB/s")
	f.ok("tape", "label", "--library", "libA", "--slot", "1", "--barcode", "A00001L9")
	f.ok("tape", "label", "--library", "libA", "--slot", "2", "--barcode", "B00001L9")

	start := time.Now()
	f.copied(sum(data), size, "disk:db01", "tape:A00001L9")
	took, least := time.Since(start), load+time.Duration(float64(size)/rate*float64(time.Second))
	t.Logf("the paced copy took %v (the drive needs at least %v)", took, least)
	if took < least {
		t.Errorf("a %d-byte copy to a %d B/s drive that loads in %v took %v, less than the %v the drive needs", size, rate, load, took, least)
	}
	m := &moverCluster{t: t, c: c}
	ctx := context.Background()
	before, err := m.metric(ctx, "n1", "ferry_drive_stalls_total")
	if err != nil {
		t.Fatal(err)
	}
	// A source at half the drive's rate: its 8 MiB buffer runs empty
	// about every 0.5 s, a few times per copy.
	f.copied(sum(data), size, "disk:db01", "tape:B00001L9", "--bwlimit", "16MiB/s")
	after, err := m.metric(ctx, "n1", "ferry_drive_stalls_total")
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("ferry_drive_stalls_total went from %v to %v: a drive fed at half its rate did not stall", before, after)
	}
	t.Logf("stalls of the copy fed at half the drive's rate: %v", after-before)
}
