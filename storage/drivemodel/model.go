package drivemodel

import (
	"fmt"
	"time"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// Model is how fast a library's drives move tape. Zero fields are off.
type Model struct {
	// Rate is the bytes per second a drive reads or writes while it
	// streams; 0 streams as fast as the machine.
	Rate int64
	// LoadTime is how long a load takes, from the cartridge entering the
	// drive to the drive being ready; 0 loads at once.
	LoadTime time.Duration
	// LocateRate is the bytes of tape per second a locate or space
	// passes; 0 locates at once.
	LocateRate int64
}

// Limits of a Model's fields: the arithmetic stays well inside int64, and
// a load of more than MaxLoadTime is a mistake, not a drive.
const (
	MaxRate     = 1 << 40 // 1 TiB/s
	MaxLoadTime = 10 * time.Minute
)

// Off reports a model that changes nothing: a drive as fast as the machine.
func (m Model) Off() bool { return m == Model{} }

// Violation is one field of a drive model that is out of bounds, named as
// the protobuf field (CreateLibraryRequest's and Library's).
type Violation struct {
	Field       string
	Description string
}

// Check reports the fields of a drive model, in the units of the protobuf
// messages, that are out of bounds. It is the one rule the CLI, the gRPC
// API and the state machine apply.
func Check(rate uint64, loadMillis uint32, locateRate uint64) []Violation {
	var v []Violation
	if rate > MaxRate {
		v = append(v, Violation{"drive_rate_bytes_per_second", fmt.Sprintf("%d bytes/s: at most %d (1 TiB/s)", rate, uint64(MaxRate))})
	}
	if time.Duration(loadMillis)*time.Millisecond > MaxLoadTime {
		v = append(v, Violation{"load_time_millis", fmt.Sprintf("%d ms: at most %d (%v)", loadMillis, MaxLoadTime.Milliseconds(), MaxLoadTime)})
	}
	if locateRate > MaxRate {
		v = append(v, Violation{"locate_rate_bytes_per_second", fmt.Sprintf("%d bytes/s: at most %d (1 TiB/s)", locateRate, uint64(MaxRate))})
	}
	return v
}

// FromLibrary is the model a registered library sets; values out of
// bounds (the state machine refuses them) are capped.
func FromLibrary(l *ferryv1.Library) Model {
	return Model{
		Rate:       int64(min(l.GetDriveRateBytesPerSecond(), MaxRate)),
		LoadTime:   min(time.Duration(l.GetLoadTimeMillis())*time.Millisecond, MaxLoadTime),
		LocateRate: int64(min(l.GetLocateRateBytesPerSecond(), MaxRate)),
	}
}

// bytesTime is how long n bytes take at rate bytes per second; 0 when the
// rate is off.
func bytesTime(n, rate int64) time.Duration {
	if rate <= 0 || n <= 0 {
		return 0
	}
	return time.Duration(float64(n) / float64(rate) * float64(time.Second))
}
