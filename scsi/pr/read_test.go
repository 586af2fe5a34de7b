package pr_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ferry-san/ferry/scsi/pr"
)

// inCDB is PERSISTENT RESERVE IN with service action sa.
func inCDB(sa byte) []byte {
	return []byte{pr.OpPersistentReserveIn, sa, 0, 0, 0, 0, 0, 0x40, 0, 0}
}

// tid is the iSCSI TransportID of n, built by hand.
func tid(n pr.Nexus) []byte {
	name := append([]byte(n.Initiator), 0)
	for len(name)%4 != 0 || len(name) < 20 {
		name = append(name, 0)
	}
	return append([]byte{0x45, 0, 0, byte(len(name))}, name...)
}

// fullStatus is one READ FULL STATUS descriptor, built by hand.
func fullStatus(r pr.Registration, holder bool, t pr.Type) []byte {
	d := make([]byte, 24)
	binary.BigEndian.PutUint64(d, r.Key)
	if r.AllTargetPorts {
		d[12] |= 2
	} else {
		binary.BigEndian.PutUint16(d[18:], r.Nexus.TargetPort)
	}
	if holder {
		d[12] |= 1
		d[13] = byte(t)
	}
	id := tid(r.Nexus)
	binary.BigEndian.PutUint32(d[20:], uint32(len(id)))
	return append(d, id...)
}

// cat joins byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// hdr is PRGENERATION and ADDITIONAL LENGTH.
func hdr(gen, n uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, gen), n)
}

func TestRead(t *testing.T) {
	ab := []cmd{register(a, 0, ka), registerFlags(b, 0, kb, allTgPt)}
	rb := pr.Registration{Nexus: b, Key: kb, AllTargetPorts: true}
	tests := []struct {
		name  string
		setup []cmd
		cdb   []byte
		err   wantErr
		want  []byte
	}{
		{name: "read keys none", cdb: inCDB(0), want: hdr(0, 0)},
		{name: "read keys", setup: ab, cdb: inCDB(0),
			want: cat(hdr(2, 16), binary.BigEndian.AppendUint64(nil, ka), binary.BigEndian.AppendUint64(nil, kb))},
		{name: "read reservation none", setup: ab, cdb: inCDB(1), want: hdr(2, 0)},
		{name: "read reservation", setup: append(ab, reserve(a, ka, pr.ExclusiveAccess)), cdb: inCDB(1),
			want: cat(hdr(2, 16), binary.BigEndian.AppendUint64(nil, ka), []byte{0, 0, 0, 0, 0, 0x03, 0, 0})},
		{name: "read reservation all registrants", setup: append(ab, reserve(b, kb, pr.WriteExclusiveAllRegistrants)), cdb: inCDB(1),
			want: cat(hdr(2, 16), make([]byte, 8), []byte{0, 0, 0, 0, 0, 0x07, 0, 0})},
		{name: "report capabilities", cdb: inCDB(2), want: []byte{0, 8, 0x05, 0x90, 0xEA, 0x01, 0, 0}},
		{name: "report capabilities aptpl", setup: []cmd{registerFlags(a, 0, ka, aptpl)}, cdb: inCDB(2),
			want: []byte{0, 8, 0x05, 0x91, 0xEA, 0x01, 0, 0}},
		{name: "read full status none", cdb: inCDB(3), want: hdr(0, 0)},
		{name: "read full status", setup: append(ab, reserve(a, ka, pr.ExclusiveAccess)), cdb: inCDB(3),
			want: func() []byte {
				d := cat(fullStatus(reg(a, ka), true, pr.ExclusiveAccess), fullStatus(rb, false, 0))
				return cat(hdr(2, uint32(len(d))), d)
			}()},
		{name: "read full status all registrants", setup: append(ab, reserve(a, ka, pr.ExclusiveAccessAllRegistrants)), cdb: inCDB(3),
			want: func() []byte {
				d := cat(fullStatus(reg(a, ka), true, pr.ExclusiveAccessAllRegistrants), fullStatus(rb, true, pr.ExclusiveAccessAllRegistrants))
				return cat(hdr(2, uint32(len(d))), d)
			}()},
		{name: "service action 4", cdb: inCDB(4), err: illegalCDB},
		{name: "service action 1Fh", cdb: inCDB(0x1F), err: illegalCDB},
		{name: "short cdb", cdb: inCDB(0)[:9], err: illegalCDB},
		{name: "reserved by reserve6", setup: []cmd{reserve6(a)}, cdb: inCDB(0), err: errConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := apply(t, pr.State{}, tt.setup...)
			got, err := pr.Read(s, a, tt.cdb)
			checkErr(t, err, tt.err)
			if err == nil && !bytes.Equal(got, tt.want) {
				t.Errorf("data\n got % x\nwant % x", got, tt.want)
			}
		})
	}
}

func TestTransportID(t *testing.T) {
	tests := []struct {
		initiator string
		n         int // ADDITIONAL LENGTH
	}{
		{"x", 20},
		{"iqn.2026-01.test:a,i,0x400000000001", 36},
		{"iqn.2026-01.test:ab,i,0x400000000001", 40},
	}
	for _, tt := range tests {
		id := pr.TransportID(tt.initiator)
		if id[0] != 0x45 || int(binary.BigEndian.Uint16(id[2:4])) != tt.n || len(id) != 4+tt.n {
			t.Errorf("%q: % x", tt.initiator, id)
		}
		if !bytes.HasPrefix(id[4:], append([]byte(tt.initiator), 0)) {
			t.Errorf("%q: name % x", tt.initiator, id[4:])
		}
	}
}
