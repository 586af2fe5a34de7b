package ndmjob

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseLog(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Line
	}{
		{`TEST "Test T-OC -- Tape Open/Close"`, []Line{{"TEST", "Test T-OC -- Tape Open/Close"}}},
		{`QR ""` + "\n" + `QR "  a\tb \"c\" d\\e"`, []Line{{"QR", ""}, {"QR", "  a\tb \"c\" d\\e"}}},
		{`#T " ERR-AGENT NDMP4_TAPE_WRITE  NDMP4_NOT_SUPPORTED_ERR"`, []Line{{"#T", " ERR-AGENT NDMP4_TAPE_WRITE  NDMP4_NOT_SUPPORTED_ERR"}}},
		{"ndmjob: can't open config file x\n\n", []Line{{"", "ndmjob: can't open config file x"}}},
		{`SESS unquoted`, []Line{{"SESS", "unquoted"}}},
	} {
		if got := ParseLog([]byte(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("ParseLog(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseTestReference reads runs of ndmjob against its own daemon
// (Amanda 3.5.1, Debian 12): test-mover passes; test-tape stops at T-BW
// #6 and test-data at D-LISTEN #3, as the issue says.
func TestParseTestReference(t *testing.T) {
	type series struct {
		name                    string
		status                  string
		pass, warn, fail, total int
	}
	for _, tc := range []struct {
		file     string
		want     []string
		series   []series
		failures []string
		final    string
		missing  []string
	}{
		{
			file: "test-tape-ndmjobd.txt", want: TapeSeries,
			series: []series{
				{"T-OC", "Passed", 8, 0, 0, 8},
				{"T-BGS", "Passed", 4, 0, 0, 4},
				{"T-BW", "Failed", 5, 0, 1, 6},
			},
			failures: []string{"T-BW #6 failed NDMP4_TAPE_OPEN/NDMP9_NO_ERR got NDMP9_NO_ERR (error expected) [#6 .... expected NDMP9_ILLEGAL_ARGS_ERR; #6 .... or NDMP9_NO_ERR; #T  ERR-AGENT NDMP4_TAPE_WRITE  NDMP4_NOT_SUPPORTED_ERR]"},
			missing:  []string{"T-BR", "T-BWR", "T-WRITE", "T-READ", "T-MTIO"},
		},
		{
			file: "test-mover-ndmjobd.txt", want: MoverSeries,
			series: []series{
				{"M-IDLE", "Passed", 7, 0, 0, 7},
				{"M-LISTEN", "Passed", 3, 0, 0, 3},
				{"M-LISTEN/bogus-args", "Passed", 2, 0, 0, 2},
				{"M-LISTEN/not-open", "Passed", 8, 0, 0, 8},
				{"M-LISTEN/tape-ro", "Passed", 30, 0, 0, 30},
				{"M-LISTEN/tape-rw", "Passed", 50, 0, 0, 50},
			},
			final: "test-mover Passed 100",
		},
		{
			file: "test-data-ndmjobd.txt", want: DataSeries,
			series: []series{
				{"D-IDLE", "Passed", 3, 0, 0, 3},
				{"D-LISTEN", "Failed", 2, 0, 1, 3},
			},
			failures: []string{"D-LISTEN #3 failed NDMP4_DATA_LISTEN/NDMP9_NO_ERR got NDMP9_NO_ERR (call) [#D  ERR-AGENT NDMP4_DATA_LISTEN  NDMP4_NOT_SUPPORTED_ERR]"},
			missing:  []string{"D-LISTEN/bogus-args"},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := ParseTest(readTestdata(t, tc.file))
			var got []series
			var failures []string
			for _, s := range r.Series {
				got = append(got, series{s.Name, s.Status, s.Pass, s.Warn, s.Fail, s.Total})
				if len(s.Steps) != s.Total {
					t.Errorf("%s: %d steps read, ndmjob counted %d", s.Name, len(s.Steps), s.Total)
				}
				for _, st := range s.Failures() {
					failures = append(failures, StepText(s.Name, st))
				}
			}
			if !slices.Equal(got, tc.series) {
				t.Errorf("series:\n got %v\nwant %v", got, tc.series)
			}
			if !slices.Equal(failures, tc.failures) {
				t.Errorf("failures:\n got %q\nwant %q", failures, tc.failures)
			}
			if m := r.Missing(tc.want); !slices.Equal(m, tc.missing) {
				t.Errorf("missing %q, want %q", m, tc.missing)
			}
			err := r.Check(tc.want)
			if tc.final != "" {
				if r.Final == nil || r.Final.Program+" "+r.Final.Status != strings.Join(strings.Fields(tc.final)[:2], " ") {
					t.Errorf("final %+v, want %s", r.Final, tc.final)
				}
				if err != nil {
					t.Errorf("Check: %v", err)
				}
				return
			}
			if r.Final != nil {
				t.Errorf("final %+v, want none", r.Final)
			}
			if !errors.Is(err, ErrNotPassed) {
				t.Fatalf("Check = %v, want ErrNotPassed", err)
			}
			for _, f := range tc.failures {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("Check's error does not name %q:\n%v", f, err)
				}
			}
		})
	}
}

// TestParseTestShapes covers what the reference runs do not: a warning,
// a run cut short without a verdict, a connection refused before any
// series, a FINAL line with a failure.
func TestParseTestShapes(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		status     string // of the last series
		checkHas   string
		noSeries   bool
		finalFails bool
	}{
		{
			name: "warning",
			in: `TEST "Test T-OC -- Tape Open/Close"
Test "T-OC #1 -- Passed NDMP4_TAPE_CLOSE/NDMP9_DEV_NOT_OPEN_ERR"
Test "T-OC #2 -- .... expected NDMP9_NO_DEVICE_ERR"
Test "T-OC #2 -- Almost NDMP4_TAPE_OPEN/NDMP9_NO_DEVICE_ERR got NDMP9_ILLEGAL_ARGS_ERR (call)"`,
			status: "Almost", checkHas: "T-OC #2 warned NDMP4_TAPE_OPEN/NDMP9_NO_DEVICE_ERR got NDMP9_ILLEGAL_ARGS_ERR (call)",
		},
		{
			name: "cut short",
			in: `TEST "Test M-IDLE -- Mover IDLE State Series"
Test "M-IDLE #1 -- Passed mover check/NDMP9_MOVER_STATE_IDLE"
SESS "connection lost"`,
			status: "Unfinished", checkHas: "M-IDLE: Unfinished",
		},
		{
			name: "after a verdict, a tattle",
			in: `TEST "Test D-IDLE -- Data IDLE State Series"
Test "D-IDLE #1 -- Passed data check/NDMP9_DATA_STATE_IDLE"
#D " ERR-AGENT NDMP4_DATA_GET_STATE  NDMP4_NOT_SUPPORTED_ERR"`,
			status: "Failed", checkHas: "D-IDLE #2 failed (no verdict) ndmjob stopped [#D  ERR-AGENT NDMP4_DATA_GET_STATE  NDMP4_NOT_SUPPORTED_ERR]",
		},
		{
			name:     "refused",
			in:       `SESS "Can't connect to agent 127.0.0.1: NDMP4_NOT_AUTHORIZED_ERR"` + "\n" + `SESS "Operation complete but had problems."`,
			noSeries: true, checkHas: "NDMP4_NOT_AUTHORIZED_ERR",
		},
		{
			name: "final failed",
			in: `TEST "Test T-OC -- Tape Open/Close"
TEST "Test T-OC Failed -- pass=7 warn=0 fail=1 (total 8)"
TEST "FINAL test-tape Failed -- pass=7 warn=0 fail=1 (total 8)"`,
			status: "Failed", checkHas: "FINAL test-tape Failed", finalFails: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ParseTest([]byte(tc.in))
			if tc.noSeries {
				if len(r.Series) != 0 {
					t.Errorf("series %+v, want none", r.Series)
				}
			} else if s := r.Series[len(r.Series)-1]; s.Status != tc.status {
				t.Errorf("status %q, want %q", s.Status, tc.status)
			}
			err := r.Check(nil)
			if err == nil || !strings.Contains(err.Error(), tc.checkHas) {
				t.Errorf("Check = %v, want it to say %q", err, tc.checkHas)
			}
		})
	}
}

func TestTable(t *testing.T) {
	ferry := ParseTest(readTestdata(t, "test-mover-ndmjobd.txt"))
	ref := ParseTest(readTestdata(t, "test-tape-ndmjobd.txt"))
	got := Table([]string{"A", "B"}, []Report{ferry, ref}, []string{"M-IDLE", "T-BW", "T-BR"})
	for _, want := range []string{
		"| series | A: steps, failed | B: steps, failed |",
		"| M-IDLE | 7, 0 | not reached |",
		"| T-BW | not reached | 6, 1 (stops at #6: NDMP4_TAPE_OPEN/NDMP9_NO_ERR got NDMP9_NO_ERR (error expected)) |",
		"| T-BR | not reached | not reached |",
		"| M-LISTEN/tape-rw | 50, 0 | not reached |",
		"| **FINAL** | Passed: 100, 0 | none (stopped) |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

func TestParseQuery(t *testing.T) {
	q := ParseQuery(readTestdata(t, "query-ndmjobd.txt"))
	if len(q.Agents) != 2 || q.Agents[0] != "Data Agent 127.0.0.1 NDMPv4" || q.Agents[1] != "Tape Agent 127.0.0.1 NDMPv4" {
		t.Errorf("agents %q", q.Agents)
	}
	if len(q.Tapes) != 0 || len(q.Butypes) != 0 || q.Robot != nil {
		t.Errorf("ndmjob's daemon without a config file has no tapes, butypes or robot: %+v", q)
	}

	q = ParseQuery(readTestdata(t, "query-robot-ndmjobd.txt"))
	r := q.Robot
	if r == nil {
		t.Fatal("no robot")
	}
	if r.Ident != "NDMJOB  FakeRobot       1.0" {
		t.Errorf("ident %q", r.Ident)
	}
	if want := (Assignment{SlotAddr: 1024, Slots: 10, DriveAddr: 128, Drives: 2, ArmAddr: 16, Arms: 1, ImpExpAddr: 0, ImpExps: 2}); r.Assign != want {
		t.Errorf("assignment %+v, want %+v", r.Assign, want)
	}
	if len(r.Elements) != 15 {
		t.Fatalf("%d elements, want 15", len(r.Elements))
	}
	if e := r.Elements[5]; e != (Element{Addr: 1024, Type: "SLOT", Full: true, Barcode: "PTAG00XX", Source: -1}) {
		t.Errorf("element 6 = %+v", e)
	}
	got := r.Contents()
	want := []string{"drive 0 empty", "drive 1 empty"}
	for i := range 10 {
		want = append(want, fmt.Sprintf("slot %d PTAG%02dXX", i+1, i))
	}
	want = append(want, "i/e 1 empty", "i/e 2 empty")
	if !slices.Equal(got, want) {
		t.Errorf("contents:\n got %q\nwant %q", got, want)
	}
}

func TestParseQueryFerryShapes(t *testing.T) {
	out := `QR ""
QR "Tape Agent 127.0.0.1 NDMPv4"
QR "  tape FERRY VTL"
QR "    device     lib1/0"
QR "      attr       0x0"
QR "      empty capabilities"
QR "    device     lib1/1"
QR "      empty capabilities"
QR ""
QR "  Backup type info of tar format"
QR "    attrs      0x1c6"
QR "      backup-file-history   Yes"
QR "    set        FILESYSTEM="
QR "    set        HIST=y"
QR ""
QR "Robot Agent 127.0.0.1 NDMPv4"
QR "  scsi FERRY CHANGER"
QR "    device     lib1"
QR "  get_fs_info failed"
QR "  Type"
QR "    'FERRY   VTL-CHANGER     0001'"
QR "  Elements"
QR "     slots 2@1000  drive 1@500  arm 1@0  i/e 1@10"
QR "  Status"
QR "    E#  Addr Type Status"
QR "    --  ---- ---- ---------------------"
QR "     1  @0   ARM  Empty"
QR "     2  @10  IEE  Full  PVolTag(C00001L9,#0)"
QR "     3  @500 TAPE Full  PVolTag(A00001L9                        ,#0)"
QR "                  SValid(src=1000,!invert)"
QR "                  ID sid=0 lun=0"
QR "     4  @1000 SLOT Empty"
QR "     5  @1001 SLOT Full  PVolTag(B00001L9,#0) Except(asc=3a,ascq=00)"
`
	q := ParseQuery([]byte(out))
	if !slices.Equal(q.Tapes, []string{"lib1/0", "lib1/1"}) || !slices.Equal(q.Changers, []string{"lib1"}) {
		t.Errorf("tapes %q changers %q", q.Tapes, q.Changers)
	}
	if env, ok := q.Butypes["tar"]; !ok || !slices.Equal(env, []string{"FILESYSTEM=", "HIST=y"}) {
		t.Errorf("butypes %q", q.Butypes)
	}
	if !slices.Equal(q.Failures, []string{"get_fs_info failed"}) {
		t.Errorf("failures %q", q.Failures)
	}
	if d := q.Robot.Of("TAPE"); len(d) != 1 || d[0].Source != 1000 || d[0].Barcode != "A00001L9" {
		t.Errorf("drive %+v", d)
	}
	if s := q.Robot.Of("SLOT"); len(s) != 2 || s[1].Except != "asc=3a,ascq=00" {
		t.Errorf("slots %+v", s)
	}
	want := []string{"drive 0 A00001L9", "slot 1 empty", "slot 2 B00001L9", "i/e 1 C00001L9"}
	if got := q.Robot.Contents(); !slices.Equal(got, want) {
		t.Errorf("contents %q, want %q", got, want)
	}
}

func TestLabels(t *testing.T) {
	out := "SESS \"Opening tape drive lib1/0 read-only\"\nME \"NDMP01+1/0@1000\"\nME \"NDMP02@1001\"\nME NDMP03\n"
	if got := Labels([]byte(out)); !slices.Equal(got, []string{"NDMP01", "NDMP02", "NDMP03"}) {
		t.Errorf("labels %q", got)
	}
}
