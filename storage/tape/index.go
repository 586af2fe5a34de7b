package tape

import "sort"

// index locates every object of an image without reading it. Two parallel
// slices rather than a slice of structs: 12 bytes an object instead of 16,
// which matters for tapes of millions of small records.
type index struct {
	off   []int64  // image offset of each object's first byte
	word  []uint32 // its SIMH header word: wordTapeMark or a record length
	marks []uint64 // object ids of the tape marks, ascending
	end   int64    // image offset where the next object after the last goes
}

func (x *index) len() uint64 { return uint64(len(x.off)) }

func (x *index) add(off int64, w uint32) {
	if w == wordTapeMark {
		x.marks = append(x.marks, uint64(len(x.off)))
	}
	x.off = append(x.off, off)
	x.word = append(x.word, w)
}

// offset is where object id starts, or where it would be written at end of
// data.
func (x *index) offset(id uint64) int64 {
	if id < x.len() {
		return x.off[id]
	}
	return x.end
}

// truncate forgets objects id and after; the next one goes where id was.
func (x *index) truncate(id uint64) {
	if id >= x.len() {
		return
	}
	x.end = x.off[id]
	x.off = x.off[:id]
	x.word = x.word[:id]
	x.marks = x.marks[:x.marksBefore(id)]
}

// marksBefore counts the tape marks with an object id below id: the tape
// file number at id.
func (x *index) marksBefore(id uint64) int {
	return sort.Search(len(x.marks), func(i int) bool { return x.marks[i] >= id })
}
