package main

import (
	"testing"
)

// TestDeviceCommandsGolden runs the disk, library and tape commands against
// the fake registry and checks exit status, stdout and stderr.
func TestDeviceCommandsGolden(t *testing.T) {
	addr := startDataFake(t, &dataFake{})
	tests := []struct {
		golden string
		args   []string
	}{
		{"disk_create", []string{"disk", "create", "--name", "db03", "--size", "1GiB", "--path", "/san/east/db03.img", "--block-size", "512", "--site", "east"}},
		{"disk_create_thin", []string{"disk", "create", "--name", "db03", "--size", "1GiB", "--path", "/san/east/db03.img", "--thin"}},
		{"disk_create_json", []string{"disk", "create", "-name", "db03", "-size", "4 MiB", "-path", "/san/db03.img", "-o", "json"}},
		{"disk_create_exists", []string{"disk", "create", "-name", "db01", "-size", "1MiB", "-path", "/san/db01.img"}},
		{"disk_create_bad_size", []string{"disk", "create", "-name", "db03", "-size", "1000", "-path", "/san/db03.img"}},
		{"disk_create_size_syntax", []string{"disk", "create", "-name", "db03", "-size", "1 GX", "-path", "/san/db03.img"}},
		{"disk_create_missing", []string{"disk", "create", "-size", "1GiB"}},
		{"disk_add", []string{"disk", "add", "--name", "db02", "--path", "/dev/sdb", "--site", "east", "--block-size", "4096", "--read-only"}},
		{"disk_add_missing_path", []string{"disk", "add", "-name", "db02", "-path", "/dev/missing"}},
		{"disk_list", []string{"disk", "list"}},
		{"disk_list_json", []string{"disk", "list", "-o", "json"}},
		{"library_create", []string{"library", "create", "--name", "libA", "--slots", "24", "--drives", "4", "--dir", "/vtl/libA", "--site", "east", "--capacity", "8GiB"}},
		{"library_create_no_drives", []string{"library", "create", "-name", "libA", "-slots", "24", "-dir", "/vtl/libA", "-capacity", "8GiB"}},
		{"library_create_no_capacity", []string{"library", "create", "-name", "libA", "-slots", "24", "-drives", "2", "-dir", "/vtl/libA"}},
		{"tape_label_slot_zero", []string{"tape", "label", "-library", "libA", "-slot", "0", "-barcode", "A00009L9"}},
		{"library_create_drive_model", []string{"library", "create", "-name", "libA", "-slots", "24", "-drives", "4", "-dir", "/vtl/libA", "-capacity", "18TB",
			"-drive-rate", "400MB/s", "-load-time", "15s", "-locate-rate", "10GB/s"}},
		{"library_create_drive_rate_mib", []string{"library", "create", "-name", "libA", "-slots", "4", "-drives", "1", "-dir", "/vtl/libA", "-capacity", "1GiB",
			"-drive-rate", "40MiB/s"}},
		{"library_create_bad_drive_rate", []string{"library", "create", "-name", "libA", "-drives", "1", "-dir", "/vtl/libA", "-capacity", "1GiB", "-drive-rate", "fast"}},
		{"library_create_huge_drive_rate", []string{"library", "create", "-name", "libA", "-drives", "1", "-dir", "/vtl/libA", "-capacity", "1GiB", "-drive-rate", "2TiB/s"}},
		{"library_create_huge_locate_rate", []string{"library", "create", "-name", "libA", "-drives", "1", "-dir", "/vtl/libA", "-capacity", "1GiB", "-locate-rate", "5TB/s"}},
		{"library_create_negative_load_time", []string{"library", "create", "-name", "libA", "-drives", "1", "-dir", "/vtl/libA", "-capacity", "1GiB", "-load-time", "-3s"}},
		{"library_create_long_load_time", []string{"library", "create", "-name", "libA", "-drives", "1", "-dir", "/vtl/libA", "-capacity", "1GiB", "-load-time", "1h"}},
		{"library_create_bad_capacity", []string{"library", "create", "-name", "libA", "-dir", "/vtl/libA", "-capacity", "lots"}},
		{"library_list", []string{"library", "list"}},
		{"library_inventory", []string{"library", "inventory", "libA"}},
		{"library_inventory_unknown", []string{"library", "inventory", "libZ"}},
		{"library_inventory_missing", []string{"library", "inventory"}},
		{"tape_label", []string{"tape", "label", "--library", "libA", "--slot", "1", "--barcode", "A00001L9"}},
		{"tape_label_full_slot", []string{"tape", "label", "-library", "libA", "-slot", "2", "-barcode", "A00002L9"}},
		{"tape_label_bad_barcode", []string{"tape", "label", "-library", "libA", "-slot", "3", "-barcode", "A1"}},
		{"tape_label_missing", []string{"tape", "label", "-library", "libA"}},
		{"tape_list", []string{"tape", "list"}},
		{"tape_list_library", []string{"tape", "list", "--library", "libA"}},
		{"disk_create_h", []string{"disk", "create", "-h"}},
		{"usage_group_disk", []string{"disk"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := runFerry(t, map[string]string{"FERRY_ADDR": addr}, "", tt.args...)
			checkGolden(t, tt.golden, r.String())
		})
	}
}
