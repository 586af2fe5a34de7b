package grpcapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/storage/fence"
	"github.com/ferry-san/ferry/storage/tape"
)

// writeImage writes a cartridge image labelled for barcode (no label if
// empty) holding files, each a list of records closed by a filemark, and
// then the records of tail without one.
func writeImage(t *testing.T, path, barcode string, files [][][]byte, tail [][]byte) {
	t.Helper()
	c, err := tape.Create(path, tape.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if barcode != "" {
		mustDo(t, tape.WriteLabel(c, barcode))
	}
	for _, f := range files {
		for _, rec := range f {
			_, err := c.WriteRecord(rec)
			mustDo(t, err)
		}
		_, err := c.WriteFilemarks(1)
		mustDo(t, err)
	}
	for _, rec := range tail {
		_, err := c.WriteRecord(rec)
		mustDo(t, err)
	}
	mustDo(t, c.Close())
}

func hexSHA(recs ...[]byte) string {
	s := sha256.Sum256(bytes.Join(recs, nil))
	return hex.EncodeToString(s[:])
}

// TestImportTape: an image is registered with its label's barcode, its
// catalog and its identity; images that are damaged, unlabelled, named for
// another volume, already registered or fenced by another cluster are
// refused with the reason, and leave nothing registered.
func TestImportTape(t *testing.T) {
	a, b, c := bytes.Repeat([]byte{1}, 1000), bytes.Repeat([]byte{2}, 65536), []byte("tail")
	tests := []struct {
		name string
		make func(t *testing.T, dir string) string
		// first, if set, is imported into slot 2 beforehand.
		first    string
		slot     uint32
		takeOver bool
		code     codes.Code
		errText  string
		want     *ferryv1.Cartridge
	}{
		{
			name: "two files and an unclosed tail",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "C00001L8.tap")
				writeImage(t, p, "C00001L8", [][][]byte{{a, b}, {}}, [][]byte{c})
				return p
			},
			want: &ferryv1.Cartridge{Barcode: "C00001L8", Files: []*ferryv1.TapeFile{
				{Number: 1, Bytes: 66536, Records: 2, Sha256: hexSHA(a, b)},
				{Number: 2, Sha256: hexSHA()},
				{Number: 3, Bytes: 4, Records: 1, Sha256: hexSHA(c), Incomplete: true},
			}},
		},
		{
			name: "a file name that is no barcode takes the label's serial",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "backup.img")
				writeImage(t, p, "D00007L9", nil, nil)
				return p
			},
			want: &ferryv1.Cartridge{Barcode: "D00007L9"},
		},
		{
			name: "damaged",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "C00001L8.tap")
				writeImage(t, p, "C00001L8", [][][]byte{{a, b}}, nil)
				st, err := os.Stat(p)
				mustDo(t, err)
				mustDo(t, os.Truncate(p, st.Size()-100))
				return p
			},
			code: codes.InvalidArgument, errText: "not a valid SIMH tape image: damaged at byte offset",
		},
		{
			name: "unlabelled",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "C00001L8.tap")
				writeImage(t, p, "", [][][]byte{{a}}, nil)
				return p
			},
			code: codes.InvalidArgument, errText: "has no VOL1 label",
		},
		{
			name: "named for another volume",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "E00001L9.tap")
				writeImage(t, p, "C00001L8", nil, nil)
				return p
			},
			code: codes.InvalidArgument, errText: `named for barcode E00001L9, but its VOL1 label is of volume "C00001"`,
		},
		{
			name: "a registered cartridge's image through a hard link",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "A00003L9.tap")
				writeImage(t, p, "A00003L9", nil, nil)
				mustDo(t, os.Link(p, filepath.Join(dir, "A00003L8.tap")))
				return filepath.Join(dir, "A00003L8.tap")
			},
			first: "A00003L9.tap",
			code:  codes.AlreadyExists, errText: `cartridge "A00003L8": already exists: it is the same file as cartridge "A00003L9"`,
		},
		{
			name: "fenced by another cluster",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "C00001L8.tap")
				writeImage(t, p, "C00001L8", nil, nil)
				claimAs("cluster-1", 936)(t, p)
				return p
			},
			code: codes.FailedPrecondition, errText: "belongs to cluster cluster-1 (epoch 936)",
		},
		{
			name: "fenced by another cluster, taken over",
			make: func(t *testing.T, dir string) string {
				p := filepath.Join(dir, "C00001L8.tap")
				writeImage(t, p, "C00001L8", nil, nil)
				claimAs("cluster-1", 936)(t, p)
				return p
			},
			takeOver: true,
			want:     &ferryv1.Cartridge{Barcode: "C00001L8"},
		},
		{
			name: "a slot the library lacks",
			make: func(t *testing.T, dir string) string { return filepath.Join(dir, "x.tap") },
			slot: 100, code: codes.InvalidArgument, errText: "library libA has slots 1 to 4",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeNode()
			cl := serveDevices(t, n)
			dir := t.TempDir()
			path := tc.make(t, dir)
			if tc.first != "" {
				if _, err := cl.ImportTape(context.Background(), &ferryv1.ImportTapeRequest{Library: "libA", Slot: 2, Path: filepath.Join(dir, tc.first)}); err != nil {
					t.Fatalf("first import: %v", err)
				}
			}
			slot := cmpOr(tc.slot, 3)
			before := len(n.fsm.Cartridges(""))
			got, err := cl.ImportTape(context.Background(), &ferryv1.ImportTapeRequest{Library: "libA", Slot: slot, Path: path, TakeOver: tc.takeOver})
			if tc.want == nil {
				if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("ImportTape = %v, want %v with %q", err, tc.code, tc.errText)
				}
				if len(n.fsm.Cartridges("")) != before {
					t.Fatal("a refused import registered a cartridge")
				}
				return
			}
			if err != nil {
				t.Fatalf("ImportTape: %v", err)
			}
			canon, _ := filepath.EvalSymlinks(path)
			if got.GetBarcode() != tc.want.GetBarcode() || got.GetPath() != canon || got.GetIdentity().GetIno() == 0 ||
				got.GetLocation().GetIndex() != 3 || got.GetHomeSlot() != 3 {
				t.Errorf("imported %v", got)
			}
			if len(got.GetFiles()) != len(tc.want.GetFiles()) {
				t.Fatalf("catalog %v, want %v", got.GetFiles(), tc.want.GetFiles())
			}
			for i := range got.GetFiles() {
				if !proto.Equal(got.GetFiles()[i], tc.want.GetFiles()[i]) {
					t.Errorf("file %d: %v, want %v", i+1, got.GetFiles()[i], tc.want.GetFiles()[i])
				}
			}
			st, err := os.Stat(path)
			mustDo(t, err)
			if got.GetUsedBytes() == 0 || got.GetUsedBytes() > uint64(st.Size()) {
				t.Errorf("used bytes %d of a %d-byte image", got.GetUsedBytes(), st.Size())
			}
			if rec, err := fence.Read(canon); err != nil || tc.takeOver && rec.Cluster != testClusterID {
				t.Errorf("fence after the import: %+v, %v", rec, err)
			}
		})
	}
}

func cmpOr(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}
