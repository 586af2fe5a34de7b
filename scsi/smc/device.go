package smc

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/ferry-san/ferry/scsi/sense"
	"github.com/ferry-san/ferry/storage/library"
)

// SCSI status bytes (SAM-5) a command ends with.
const (
	StatusGood           = 0x00
	StatusCheckCondition = 0x02
)

// Operation codes the device server answers.
const (
	opTestUnitReady     = 0x00
	opRequestSense      = 0x03
	opInitElementStatus = 0x07
	opInquiry           = 0x12
	opModeSense6        = 0x1A
	opPreventAllow      = 0x1E
	opInitElementRange  = 0x37
	opModeSense10       = 0x5A
	opReportLUNs        = 0xA0
	opMoveMedium        = 0xA5
	opReadElementStatus = 0xB8
)

// ErrHeld is what a Library's Move returns (wrapped) when a copy job or
// another NDMP session holds the cartridge or the drive of the move.
var ErrHeld = errors.New("held by a job")

// Snapshot is one library as the cluster's replicated state has it, with
// who holds what.
type Snapshot struct {
	State *library.State
	// Holders maps a drive index to who holds the drive ("job 7f3a…
	// (copy)", "ndmp session from 10.0.0.5"); a held drive is reported
	// with ACCESS clear and cannot be loaded or unloaded.
	Holders map[int]string
	// Busy maps a barcode to why it cannot be moved; the element holding
	// it is reported with ACCESS clear.
	Busy map[string]string
}

// Library is the cluster library behind the changer. The device server
// does no I/O of its own: everything it learns and changes goes through
// these two calls.
type Library interface {
	// Snapshot reads the library's current state, linearizably, so that
	// every node's changer reports the same inventory.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Move carries a cartridge from one element to another (a MOVE
	// MEDIUM). Errors wrap the library package's sentinels
	// (library.ErrEmpty, ErrOccupied, ErrNoSuchElement, ...) or ErrHeld.
	Move(ctx context.Context, from, to library.Location) error
}

// Config describes the changer as INQUIRY reports it.
type Config struct {
	// Name is the library's name; it is the default serial number, and the
	// drives' identifiers (DVCID) are Name/N unless DriveID says otherwise.
	Name string
	// Vendor, Product and Revision are the T10 identification fields:
	// at most 8, 16 and 4 ASCII characters. Defaults FERRY, SMC LIBRARY,
	// 0001.
	Vendor, Product, Revision string
	// Serial is the unit serial number (VPD 80h); default Name.
	Serial string
	// DriveID identifies drive n in READ ELEMENT STATUS with DVCID: the
	// drive's serial number, the one its tape device reports (NDMP's
	// CONFIG_GET_TAPE_INFO SERIAL_NUMBER), which is how a DMA tells which
	// tape device sits at which data transfer element. Default Name/n.
	DriveID func(n int) string
}

func (c Config) withDefaults() Config {
	if c.Vendor == "" {
		c.Vendor = "FERRY"
	}
	if c.Product == "" {
		c.Product = "SMC LIBRARY"
	}
	if c.Revision == "" {
		c.Revision = "0001"
	}
	if c.Serial == "" {
		c.Serial = c.Name
	}
	if c.DriveID == nil {
		name := c.Name
		c.DriveID = func(n int) string { return name + "/" + strconv.Itoa(n) }
	}
	return c
}

// Command is one CDB and its data-out buffer, with the size of the
// application client's data-in buffer: data-in is cut to MaxIn (NDMP's
// datain_len) as well as to the CDB's allocation length; a negative MaxIn
// sets no limit.
type Command struct {
	CDB     []byte
	DataOut []byte
	MaxIn   int
}

// Response is how a command ended.
type Response struct {
	Status byte   // StatusGood or StatusCheckCondition
	Data   []byte // data-in
	// Sense is the fixed-format (70h) sense data of a CHECK CONDITION,
	// autosense as NDMP's ext_sense carries it.
	Sense []byte
	// Err is the same sense as a value, for logs and tests; nil when GOOD.
	Err *sense.Sense
	// Moved is set when a MOVE MEDIUM moved a cartridge.
	Moved *Move
}

// Move is a MOVE MEDIUM decoded into library locations.
type Move struct {
	From, To library.Location
}

// Device is the device server of one media changer for one application
// client (one NDMP session): it keeps that client's PREVENT state and the
// sense data REQUEST SENSE returns.
type Device struct {
	cfg Config
	lib Library

	mu      sync.Mutex
	prevent bool
	// last is the sense of the last command that ended in CHECK
	// CONDITION, until the next command: REQUEST SENSE returns it, for
	// clients that ignore autosense.
	last *sense.Sense
}

// New returns the device server of a changer over lib.
func New(cfg Config, lib Library) *Device {
	return &Device{cfg: cfg.withDefaults(), lib: lib}
}

// handler runs one command. It returns the data-in (before truncation to
// the allocation length, which the handler applies itself) or the sense.
type handler func(d *Device, ctx context.Context, c Command) (data []byte, moved *Move, err *sense.Sense)

// commands maps each supported operation code to its handler and its CDB
// length.
var commands = map[byte]struct {
	cdbLen int
	run    handler
}{
	opTestUnitReady:     {6, (*Device).testUnitReady},
	opRequestSense:      {6, (*Device).requestSense},
	opInitElementStatus: {6, (*Device).initElementStatus},
	opInquiry:           {6, (*Device).inquiry},
	opModeSense6:        {6, (*Device).modeSense},
	opPreventAllow:      {6, (*Device).preventAllow},
	opInitElementRange:  {10, (*Device).initElementStatus},
	opModeSense10:       {10, (*Device).modeSense},
	opReportLUNs:        {12, (*Device).reportLUNs},
	opMoveMedium:        {12, (*Device).moveMedium},
	opReadElementStatus: {12, (*Device).readElementStatus},
}

// Execute runs one command. It never panics on a malformed CDB: a short
// one is INVALID FIELD IN CDB, an unknown operation code INVALID COMMAND
// OPERATION CODE.
func (d *Device) Execute(ctx context.Context, c Command) Response {
	d.mu.Lock()
	defer d.mu.Unlock()
	data, moved, err := d.run(ctx, c)
	if err != nil {
		d.last = err
		return Response{Status: StatusCheckCondition, Sense: err.Fixed(), Err: err}
	}
	if c.CDB[0] != opRequestSense {
		d.last = nil
	}
	if c.MaxIn >= 0 && len(data) > c.MaxIn {
		data = data[:c.MaxIn]
	}
	return Response{Status: StatusGood, Data: data, Moved: moved}
}

func (d *Device) run(ctx context.Context, c Command) ([]byte, *Move, *sense.Sense) {
	if len(c.CDB) == 0 {
		return nil, nil, sense.InvalidCDB(0, -1)
	}
	cmd, ok := commands[c.CDB[0]]
	if !ok {
		return nil, nil, sense.New(sense.IllegalRequest, sense.InvalidCommandOperationCode)
	}
	if len(c.CDB) < cmd.cdbLen {
		// The CDB ends before a field the command needs: point at the
		// first missing byte.
		return nil, nil, sense.InvalidCDB(uint16(len(c.CDB)), -1)
	}
	// NACA and LINK in the CONTROL byte are not supported (SAM-5).
	if ctl := c.CDB[cmd.cdbLen-1]; ctl&0x05 != 0 {
		return nil, nil, sense.InvalidCDB(uint16(cmd.cdbLen-1), bitOf(ctl&0x05))
	}
	return cmd.run(d, ctx, c)
}

// snapshot reads the library; a library the cluster cannot read now makes
// the changer NOT READY, which a DMA retries, rather than a failure.
func (d *Device) snapshot(ctx context.Context) (Snapshot, *sense.Sense) {
	snap, err := d.lib.Snapshot(ctx)
	if err != nil || snap.State == nil {
		return Snapshot{}, sense.New(sense.NotReady, sense.NotReadyCauseNotReportable)
	}
	return snap, nil
}

// truncate cuts data to an allocation length (SPC-4 4.2.5.6): the
// device server stops at the allocation length, even mid-field.
func truncate(data []byte, alloc int) []byte {
	if len(data) > alloc {
		return data[:alloc]
	}
	return data
}

// bitOf is the highest set bit of b, for a field pointer.
func bitOf(b byte) int {
	for i := 7; i >= 0; i-- {
		if b&(1<<i) != 0 {
			return i
		}
	}
	return -1
}
