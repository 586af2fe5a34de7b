package tape

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// model is the obvious, slow tape: a slice of objects and an index, with
// every motion done one object at a time. The Cartridge must behave the
// same under any sequence of operations.
type model struct {
	objs     [][]byte // nil = filemark
	pos      int
	capacity int64
	ewPoint  int64
}

func (m *model) size(i int) int64 {
	if m.objs[i] == nil {
		return 4
	}
	n := int64(len(m.objs[i]))
	return 8 + n + n&1
}

func (m *model) offset(pos int) int64 {
	var off int64
	for i := 0; i < pos; i++ {
		off += m.size(i)
	}
	return off
}

func (m *model) position() Position {
	file := 0
	for i := 0; i < m.pos; i++ {
		if m.objs[i] == nil {
			file++
		}
	}
	return Position{ObjectID: uint64(m.pos), File: uint64(file), BOP: m.pos == 0, EOD: m.pos == len(m.objs),
		EarlyWarning: m.capacity > 0 && m.offset(m.pos) > m.ewPoint}
}

func (m *model) write(objs ...[]byte) (bool, error) {
	end := m.offset(m.pos)
	for _, o := range objs {
		if o == nil {
			end += 4
		} else {
			end += 8 + int64(len(o)) + int64(len(o)&1)
		}
	}
	if m.capacity > 0 && end > m.capacity {
		return false, ErrEndOfMedium
	}
	m.objs = append(m.objs[:m.pos:m.pos], objs...)
	m.pos = len(m.objs)
	return m.capacity > 0 && end > m.ewPoint, nil
}

func (m *model) read(p []byte) (int, error) {
	if m.pos == len(m.objs) {
		return 0, ErrEndOfData
	}
	o := m.objs[m.pos]
	m.pos++
	if o == nil {
		return 0, ErrFilemark
	}
	n := copy(p, o)
	if len(o) > len(p) {
		return n, ErrIncorrectLength
	}
	return n, nil
}

func (m *model) space(u SpaceUnit, count int64) (error, int64) {
	switch {
	case u == SpaceEndOfData:
		m.pos = len(m.objs)
	case u == SpaceRecords && count >= 0:
		for i := int64(0); i < count; i++ {
			if m.pos == len(m.objs) {
				return ErrEndOfData, count - i
			}
			m.pos++
			if m.objs[m.pos-1] == nil {
				return ErrFilemark, count - i
			}
		}
	case u == SpaceRecords:
		for i := int64(0); i < -count; i++ {
			if m.pos == 0 {
				return ErrBeginningOfMedium, -count - i
			}
			m.pos--
			if m.objs[m.pos] == nil {
				return ErrFilemark, -count - i
			}
		}
	case count >= 0:
		for crossed := int64(0); crossed < count; m.pos++ {
			if m.pos == len(m.objs) {
				return ErrEndOfData, count - crossed
			}
			if m.objs[m.pos] == nil {
				crossed++
			}
		}
	default:
		for crossed := int64(0); crossed < -count; {
			if m.pos == 0 {
				return ErrBeginningOfMedium, -count - crossed
			}
			m.pos--
			if m.objs[m.pos] == nil {
				crossed++
			}
		}
	}
	return nil, 0
}

var sentinels = []error{ErrFilemark, ErrEndOfData, ErrEndOfMedium, ErrBeginningOfMedium, ErrIncorrectLength}

func sentinel(err error) error {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

func residue(err error) int64 {
	var re *ResidueError
	if errors.As(err, &re) {
		return re.Residue
	}
	return 0
}

func TestAgainstModel(t *testing.T) {
	runs := 40
	if testing.Short() {
		runs = 10
	}
	for run := range runs {
		t.Run(fmt.Sprint(run), func(t *testing.T) {
			t.Parallel() // most of the time is fsync on Flush and reopen
			rng := rand.New(rand.NewPCG(uint64(run), 42))
			opt := Options{}
			if run%2 == 1 {
				opt = Options{Capacity: 20000 + rng.Int64N(200000), EarlyWarning: 5000}
			}
			runModel(t, opt, 300, rng.IntN)
		})
	}
}

// FuzzAgainstModel lets the fuzzer choose the operations: each byte picks
// the next choice of runModel.
func FuzzAgainstModel(f *testing.F) {
	f.Add([]byte{0, 10, 0, 200, 1, 30, 2, 50, 3, 90, 4, 60})
	f.Add([]byte{35, 3, 35, 1, 80, 1, 9, 85, 0, 0, 70, 2, 97, 60, 5})
	f.Fuzz(func(t *testing.T, choices []byte) {
		opt := Options{}
		if len(choices) > 0 && choices[0]&1 == 1 {
			opt = Options{Capacity: 2000 + int64(choices[0])*40, EarlyWarning: 1000}
		}
		i := 0
		next := func(n int) int {
			if i >= len(choices) {
				return 0
			}
			i++
			return int(choices[i-1]) % n
		}
		runModel(t, opt, len(choices)/2, next)
	})
}

// runModel applies steps random operations to a new Cartridge and to the
// model, failing at the first difference; next(n) chooses in [0, n).
func runModel(t *testing.T, opt Options, steps int, next func(n int) int) {
	path := filepath.Join(t.TempDir(), "m.tap")
	c, err := Create(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close() }()
	m := &model{capacity: opt.Capacity, ewPoint: opt.Capacity - opt.EarlyWarning}
	for step := range steps {
		var what string
		var gotErr, wantErr error
		var gotN, wantN int
		var gotEW, wantEW bool
		switch op := next(100); {
		case op < 30:
			n := 1 + next(300)
			if next(20) == 0 {
				n = directWriteMin + next(5000)
			}
			p := record(step, n)
			what = fmt.Sprintf("WriteRecord(%d)", n)
			gotEW, gotErr = c.WriteRecord(p)
			wantEW, wantErr = m.write(p)
		case op < 40:
			n := next(4)
			what = fmt.Sprintf("WriteFilemarks(%d)", n)
			gotEW, gotErr = c.WriteFilemarks(n)
			if n == 0 {
				wantEW = m.position().EarlyWarning
			} else {
				wantEW, wantErr = m.write(make([][]byte, n)...)
			}
		case op < 65:
			size := next(400)
			what = fmt.Sprintf("ReadRecord(%d)", size)
			p, q := make([]byte, size), make([]byte, size)
			gotN, gotErr = c.ReadRecord(p)
			wantN, wantErr = m.read(q)
			if !bytes.Equal(p[:gotN], q[:wantN]) {
				t.Fatalf("step %d %s: data differs", step, what)
			}
		case op < 75:
			id := next(len(m.objs) + 3)
			what = fmt.Sprintf("Locate(%d)", id)
			gotErr = c.Locate(uint64(id))
			if id > len(m.objs) {
				m.pos, wantErr = len(m.objs), ErrEndOfData
			} else {
				m.pos = id
			}
		case op < 92:
			u := SpaceUnit(next(3))
			count := int64(next(11)) - 5
			what = fmt.Sprintf("Space(%v, %d)", u, count)
			gotErr = c.Space(u, count)
			var res int64
			wantErr, res = m.space(u, count)
			if residue(gotErr) != res {
				t.Fatalf("step %d %s: residue %d, want %d (%v)", step, what, residue(gotErr), res, gotErr)
			}
		case op < 96:
			what = "Rewind"
			gotErr = c.Rewind()
			m.pos = 0
		case op < 97:
			what = "Flush"
			gotErr = c.Flush()
		default:
			what = "reopen"
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if c, err = Open(path, opt); err != nil {
				t.Fatalf("step %d reopen: %v", step, err)
			}
			m.pos = 0
		}
		if sentinel(gotErr) != wantErr || gotN != wantN || gotEW != wantEW {
			t.Fatalf("step %d %s: (%d, %v, %v), model (%d, %v, %v)", step, what, gotN, gotEW, gotErr, wantN, wantEW, wantErr)
		}
		if got, want := pos(t, c), m.position(); got != want {
			t.Fatalf("step %d %s: position %+v, model %+v", step, what, got, want)
		}
		if got, want := c.Used(), m.offset(len(m.objs)); got != want {
			t.Fatalf("step %d %s: used %d, model %d", step, what, got, want)
		}
	}
}
