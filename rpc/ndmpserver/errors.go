package ndmpserver

import (
	"context"
	"errors"

	"github.com/ferry-san/ferry/ndmp"
)

// clusterErrorCode is the NDMP error for an error of the Cluster: the one
// place that says how the cluster's refusals read to a DMA. Services map
// errors of their own (tape positions, sockets) themselves.
func clusterErrorCode(err error) ndmp.Ndmp4_error {
	switch {
	case err == nil:
		return ndmp.NDMP4_NO_ERR
	case errors.Is(err, ErrNoTape):
		return ndmp.NDMP4_NO_TAPE_LOADED_ERR
	case errors.Is(err, ErrHeld):
		return ndmp.NDMP4_DEVICE_BUSY_ERR
	case errors.Is(err, ErrWriteProtected):
		return ndmp.NDMP4_WRITE_PROTECT_ERR
	case errors.Is(err, ErrNoDevice):
		return ndmp.NDMP4_NO_DEVICE_ERR
	case errors.Is(err, context.DeadlineExceeded):
		return ndmp.NDMP4_TIMEOUT_ERR
	}
	return ndmp.NDMP4_IO_ERR
}
