package pdu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// ErrDigest marks a PDU whose header or data digest does not match.
var ErrDigest = errors.New("iscsi: digest mismatch")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C is the iSCSI digest of b (RFC 7143 13.1).
func CRC32C(b ...[]byte) uint32 {
	var c uint32
	for _, p := range b {
		c = crc32.Update(c, castagnoli, p)
	}
	return c
}

// Digests says which digests a connection negotiated.
type Digests struct {
	Header, Data bool
}

// Limits bound what a Reader accepts, so a peer cannot make it allocate
// without bound.
type Limits struct {
	// MaxData is the largest data segment accepted.
	MaxData int
}

// Reader reads PDUs from a connection.
type Reader struct {
	r       *bufio.Reader
	Digests Digests
	Limits  Limits
}

// NewReader reads from r, without digests until told otherwise.
func NewReader(r io.Reader, maxData int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), Limits: Limits{MaxData: maxData}}
}

// Buffered is how many bytes already received wait to be read: a next PDU
// has (at least partly) arrived when it is not 0.
func (r *Reader) Buffered() int { return r.r.Buffered() }

// Read returns the next PDU. An ErrDigest error on the data leaves the
// stream in sync: the PDU is returned too, so the caller can reject it.
func (r *Reader) Read() (*PDU, error) {
	p := &PDU{}
	if _, err := io.ReadFull(r.r, p.Header[:]); err != nil {
		return nil, err
	}
	ahsLen, dataLen := p.Header.TotalAHSLength(), p.Header.DataSegmentLength()
	if dataLen > r.Limits.MaxData {
		return nil, fmt.Errorf("%w: data segment of %d bytes exceeds %d", ErrMalformed, dataLen, r.Limits.MaxData)
	}
	if ahsLen > 0 {
		p.AHS = make([]byte, ahsLen)
		if _, err := io.ReadFull(r.r, p.AHS); err != nil {
			return nil, err
		}
	}
	if r.Digests.Header {
		want, err := r.u32le()
		if err != nil {
			return nil, err
		}
		if got := CRC32C(p.Header[:], p.AHS); got != want {
			return nil, fmt.Errorf("%w: header digest %08x, computed %08x", ErrDigest, want, got)
		}
	}
	if dataLen == 0 {
		return p, nil
	}
	buf := make([]byte, pad4(dataLen))
	if _, err := io.ReadFull(r.r, buf); err != nil {
		return nil, err
	}
	p.Data = buf[:dataLen]
	if r.Digests.Data {
		want, err := r.u32le()
		if err != nil {
			return nil, err
		}
		if got := CRC32C(buf); got != want {
			return p, fmt.Errorf("%w: data digest %08x, computed %08x", ErrDigest, want, got)
		}
	}
	return p, nil
}

func (r *Reader) u32le() (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(r.r, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// Append appends the wire form of p, padded and with the digests d asks
// for, to b. The header's length fields are set from p.AHS and p.Data.
func Append(b []byte, p *PDU, d Digests) []byte {
	b = AppendHeader(b, p, d)
	b = append(b, p.Data...)
	return AppendTrailer(b, p, d)
}

// AppendHeader appends what precedes the data segment on the wire: the
// BHS with its lengths set, the AHS and the header digest. Writers that
// send the data segment from its own buffer use it with AppendTrailer.
func AppendHeader(b []byte, p *PDU, d Digests) []byte {
	p.Header.setLengths(len(p.AHS), len(p.Data))
	start := len(b)
	b = append(b, p.Header[:]...)
	b = append(b, p.AHS...)
	if d.Header {
		// The digest is sent least significant byte first, as every
		// implementation in the field does.
		b = binary.LittleEndian.AppendUint32(b, CRC32C(b[start:]))
	}
	return b
}

// AppendTrailer appends what follows the data segment: its padding and
// the data digest.
func AppendTrailer(b []byte, p *PDU, d Digests) []byte {
	if len(p.Data) == 0 {
		return b
	}
	var zeros [3]byte
	pad := zeros[:pad4(len(p.Data))-len(p.Data)]
	b = append(b, pad...)
	if d.Data {
		b = binary.LittleEndian.AppendUint32(b, CRC32C(p.Data, pad))
	}
	return b
}
