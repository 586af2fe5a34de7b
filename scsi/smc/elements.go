package smc

import (
	"fmt"

	"github.com/ferry-san/ferry/storage/library"
)

// Element type codes (SMC-3 table "Element type code"), as READ ELEMENT
// STATUS reports them and selects them.
const (
	TypeAll       = 0x0
	TypeTransport = 0x1 // medium transport element: the robot's hand
	TypeStorage   = 0x2 // storage element: a slot
	TypeIE        = 0x3 // import/export element: a mail slot
	TypeDrive     = 0x4 // data transfer element: a tape drive
)

// TransportAddress is the element address of the library's only medium
// transport element. It is also the "default transport" that MOVE MEDIUM
// accepts in its TRANSPORT ELEMENT ADDRESS field.
const TransportAddress = 0

// Map assigns element addresses to a library's elements. The assignment
// depends only on the library's sizes, so it is the same on every node and
// stays the same for the life of the library:
//
//	medium transport   0
//	storage slots      1 .. S               (slot n is address n)
//	import/export      S+1 .. S+I           (ie n is address S+n)
//	drives             S+I+1 .. S+I+D       (drive n is address S+I+1+n)
//
// Slot numbers equal their addresses so that an administrator's "slot 3"
// and a DMA's "@3" name the same slot.
type Map struct {
	Slots, IESlots, Drives int
}

// MapOf is the address map of a library.
func MapOf(s *library.State) Map {
	return Map{Slots: s.Slots, IESlots: s.IESlots, Drives: s.Drives}
}

// First addresses and counts of each element type, as the element address
// assignment mode page reports them.
func (m Map) firstStorage() int { return TransportAddress + 1 }
func (m Map) firstIE() int      { return m.firstStorage() + m.Slots }
func (m Map) firstDrive() int   { return m.firstIE() + m.IESlots }

// Count is the number of elements, the transport included.
func (m Map) Count() int { return 1 + m.Slots + m.IESlots + m.Drives }

// Address is the element address of a library location.
func (m Map) Address(l library.Location) (uint16, bool) {
	switch {
	case l.Kind == library.Slot && l.Index >= 1 && l.Index <= m.Slots:
		return uint16(m.firstStorage() + l.Index - 1), true
	case l.Kind == library.ImportExport && l.Index >= 1 && l.Index <= m.IESlots:
		return uint16(m.firstIE() + l.Index - 1), true
	case l.Kind == library.Drive && l.Index >= 0 && l.Index < m.Drives:
		return uint16(m.firstDrive() + l.Index), true
	}
	return 0, false
}

// Element is what an element address names: its type and, for every type
// but the transport, the library location.
type Element struct {
	Address  uint16
	Type     byte
	Location library.Location // zero for the transport
}

func (e Element) String() string {
	if e.Type == TypeTransport {
		return fmt.Sprintf("transport @%d", e.Address)
	}
	return fmt.Sprintf("%v @%d", e.Location, e.Address)
}

// Lookup names the element at an address; ok is false for an address no
// element has.
func (m Map) Lookup(addr uint16) (Element, bool) {
	a := int(addr)
	e := Element{Address: addr}
	switch {
	case a == TransportAddress:
		e.Type = TypeTransport
	case a < m.firstIE():
		e.Type, e.Location = TypeStorage, library.AtSlot(a-m.firstStorage()+1)
	case a < m.firstDrive():
		e.Type, e.Location = TypeIE, library.AtIE(a-m.firstIE()+1)
	case a < m.firstDrive()+m.Drives:
		e.Type, e.Location = TypeDrive, library.AtDrive(a-m.firstDrive())
	default:
		return Element{}, false
	}
	return e, true
}
