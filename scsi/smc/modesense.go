package smc

import (
	"context"
	"encoding/binary"

	"github.com/ferry-san/ferry/scsi/sense"
)

// Mode pages of a medium changer (SMC-3 7.3).
const (
	pageElementAddress    = 0x1D
	pageTransportGeometry = 0x1E
	pageCapabilities      = 0x1F
	pageAll               = 0x3F
	subpageAll            = 0xFF
)

// Page control (MODE SENSE CDB byte 2 bits 7-6).
const (
	pcChangeable = 1
	pcSaved      = 3
)

// Element type bits of the device capabilities page: the low nibble of
// its STOR and MT/ST/IE/DT move bytes.
const (
	capST = 0x02
	capIE = 0x04
	capDT = 0x08
)

// modeSense is MODE SENSE(6) (1Ah) and (10) (5Ah) with pages 1Dh, 1Eh,
// 1Fh or all of them (3Fh). A changer has no block descriptors, so DBD
// changes nothing. ndmjob sends MODE SENSE(6) with DBD, page 1Dh and an
// allocation length of 255, checks that the mode data length is at least
// 18 and reads the page at byte 4.
func (d *Device) modeSense(ctx context.Context, c Command) ([]byte, *Move, *sense.Sense) {
	cdb := c.CDB
	ten := cdb[0] == opModeSense10
	pc, code, sub := cdb[2]>>6, cdb[2]&0x3F, cdb[3]
	if pc == pcSaved {
		return nil, nil, sense.New(sense.IllegalRequest, sense.SavingParametersNotSupported)
	}
	if sub != 0 && !(code == pageAll && sub == subpageAll) {
		return nil, nil, sense.InvalidCDB(3, -1)
	}
	snap, err := d.snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	pages := modePages(MapOf(snap.State))
	var body []byte
	switch code {
	case pageAll:
		for _, p := range pages {
			body = append(body, p...)
		}
	case pageElementAddress, pageTransportGeometry, pageCapabilities:
		body = pages[code-pageElementAddress]
	default:
		return nil, nil, sense.InvalidCDB(2, 5)
	}
	if pc == pcChangeable {
		// Nothing is changeable (there is no MODE SELECT): the mask is
		// the pages with every parameter zero.
		masked := make([]byte, len(body))
		for i := 0; i < len(body); i += int(body[i+1]) + 2 {
			masked[i], masked[i+1] = body[i], body[i+1]
		}
		body = masked
	}

	var data []byte
	var alloc int
	if ten {
		data = make([]byte, 8, 8+len(body))
		binary.BigEndian.PutUint16(data[0:2], uint16(6+len(body)))
		alloc = int(binary.BigEndian.Uint16(cdb[7:9]))
	} else {
		data = make([]byte, 4, 4+len(body))
		data[0] = byte(3 + len(body))
		alloc = int(cdb[4])
	}
	return truncate(append(data, body...), alloc), nil, nil
}

// modePages are the changer's pages, in page code order.
//
// Element address assignment (1Dh): where each element type starts and
// how many there are. Transport geometry (1Eh): one transport that cannot
// rotate media. Device capabilities (1Fh): slots, mail slots and drives
// can hold media (the transport only carries it), any of them can be a
// MOVE MEDIUM's source or destination, and there is no EXCHANGE MEDIUM.
func modePages(m Map) [3][]byte {
	ea := make([]byte, 20)
	ea[0], ea[1] = pageElementAddress, 0x12
	for i, v := range []int{
		TransportAddress, 1,
		m.firstStorage(), m.Slots,
		m.firstIE(), m.IESlots,
		m.firstDrive(), m.Drives,
	} {
		binary.BigEndian.PutUint16(ea[2+2*i:], uint16(v))
	}
	geometry := []byte{pageTransportGeometry, 0x02, 0x00, 0x00}
	held := byte(capST | capIE | capDT)
	caps := make([]byte, 20)
	caps[0], caps[1] = pageCapabilities, 0x12
	caps[2] = held // STOR: which elements can hold media
	caps[4] = 0    // MT -> (the transport never holds a cartridge)
	caps[5] = held // ST -> ST, IE, DT
	caps[6] = held // IE -> ST, IE, DT
	caps[7] = held // DT -> ST, IE, DT
	// bytes 12-15 (EXCHANGE MEDIUM from MT, ST, IE, DT) stay zero
	return [3][]byte{ea, geometry, caps}
}
