package library

import "errors"

// Sentinel errors, matched with errors.Is. Every error the package returns
// is an *Error that unwraps to one of them and names the elements and
// cartridges involved.
var (
	ErrInvalidConfig    = errors.New("invalid library configuration")
	ErrNoSuchElement    = errors.New("no such element")
	ErrOccupied         = errors.New("element occupied")
	ErrEmpty            = errors.New("element empty")
	ErrInvalidBarcode   = errors.New("invalid barcode")
	ErrDuplicateBarcode = errors.New("duplicate barcode")
	ErrUnknownCartridge = errors.New("unknown cartridge")
	// ErrNotAllowed: the move breaks a changer rule, such as exporting
	// from a storage slot or placing a new cartridge straight in a drive.
	ErrNotAllowed = errors.New("move not allowed")
	// ErrCorruptState: a State decoded from elsewhere breaks an invariant.
	ErrCorruptState = errors.New("inconsistent library state")
)

// Error is a library rule violation: Msg says what, naming elements and
// barcodes ("drive 2 already holds A00003L9"); Err is the sentinel.
type Error struct {
	Library string
	Err     error
	Msg     string
}

func (e *Error) Error() string {
	if e.Library == "" {
		return e.Msg
	}
	return "library " + e.Library + ": " + e.Msg
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }
