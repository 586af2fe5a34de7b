package sense

import "fmt"

// Key is the 4-bit SENSE KEY (SPC-4 table 27).
type Key uint8

// Sense keys.
const (
	NoSense        Key = 0x0
	RecoveredError Key = 0x1
	NotReady       Key = 0x2
	MediumError    Key = 0x3
	HardwareError  Key = 0x4
	IllegalRequest Key = 0x5
	UnitAttention  Key = 0x6
	DataProtect    Key = 0x7
	BlankCheck     Key = 0x8
	VendorSpecific Key = 0x9
	CopyAborted    Key = 0xA
	AbortedCommand Key = 0xB
	VolumeOverflow Key = 0xD
	Miscompare     Key = 0xE
	Completed      Key = 0xF
)

// String returns the key's name as SPC-4 spells it.
func (k Key) String() string {
	switch k {
	case NoSense:
		return "NO SENSE"
	case RecoveredError:
		return "RECOVERED ERROR"
	case NotReady:
		return "NOT READY"
	case MediumError:
		return "MEDIUM ERROR"
	case HardwareError:
		return "HARDWARE ERROR"
	case IllegalRequest:
		return "ILLEGAL REQUEST"
	case UnitAttention:
		return "UNIT ATTENTION"
	case DataProtect:
		return "DATA PROTECT"
	case BlankCheck:
		return "BLANK CHECK"
	case VendorSpecific:
		return "VENDOR SPECIFIC"
	case CopyAborted:
		return "COPY ABORTED"
	case AbortedCommand:
		return "ABORTED COMMAND"
	case 0xC:
		return "OBSOLETE (0Ch)"
	case VolumeOverflow:
		return "VOLUME OVERFLOW"
	case Miscompare:
		return "MISCOMPARE"
	case Completed:
		return "COMPLETED"
	}
	return fmt.Sprintf("SENSE KEY %02Xh", uint8(k))
}
