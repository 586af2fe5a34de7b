//go:build !unix

package fence

import (
	"fmt"
	"os"
)

type lockMode int

const (
	lockShared lockMode = iota
	lockExclusive
)

var errNoFlock = fmt.Errorf("%w: no flock on this system", ErrUnsupported)

func flockWait(*os.File, lockMode) error        { return errNoFlock }
func flockTry(*os.File, lockMode) (bool, error) { return false, errNoFlock }
func funlock(*os.File) error                    { return errNoFlock }
