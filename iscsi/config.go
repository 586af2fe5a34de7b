package iscsi

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ferry-san/ferry/scsi/task"
)

// Config configures a Target. Zero fields take the defaults documented on
// each field (the values DefaultConfig returns).
type Config struct {
	// TargetName is the iSCSI qualified name initiators log in to, such as
	// iqn.2026-11.io.ferry:ferry. Required.
	TargetName string
	// Portals returns the "host:port,tpgt" addresses SendTargets lists for
	// the target, so that a clustered target can name every node. Default:
	// the address of the listener the discovery session came through, group 1.
	Portals func() []string
	// Server executes the SCSI commands. Required.
	Server task.Server
	// CHAP, when set, makes initiators authenticate. Default: none.
	CHAP *CHAPConfig
	// CHAPFrom, when set, is asked for the CHAP credentials at the start
	// of each login instead of CHAP, so that they can be rotated while the
	// target runs (sessions logged in go on); nil from it means none.
	// Default: CHAP.
	CHAPFrom func() *CHAPConfig
	// QueueDepth is the CmdSN window: how many commands a session may have
	// outstanding, and so how many run at once. Default 64.
	QueueDepth uint32
	// MaxRecvDataSegmentLength is the largest data segment the target
	// accepts, as it declares in login. Default 262144.
	MaxRecvDataSegmentLength uint32
	// FirstBurstLength and MaxBurstLength are the target's offers for the
	// unsolicited and the solicited burst sizes. Defaults 65536 and 262144.
	FirstBurstLength, MaxBurstLength uint32
	// MaxOutstandingR2T is how many R2Ts per command may be in flight at
	// once, the most the target agrees to. Default 1.
	MaxOutstandingR2T uint32
	// MaxTransferLength bounds the data-out of one command, which the
	// target holds in memory until the command runs. Default 32 MiB.
	MaxTransferLength uint32
	// NOPInterval is how long a connection may be idle before the target
	// pings it with a NOP-In; NOPTimeout is how long it then waits for the
	// answer before dropping the connection. Defaults 30 s and 30 s;
	// a negative NOPInterval turns pings off.
	NOPInterval, NOPTimeout time.Duration
	// LoginTimeout bounds the whole login phase. Default 15 s.
	LoginTimeout time.Duration
	// MaxSessions bounds the sessions (normal and discovery) the target
	// holds at once, so that a flood of logins cannot exhaust the node;
	// a login past it fails with TARGET ERROR, OUT OF RESOURCES, unless it
	// reinstates a session of the same initiator port. Default 256.
	MaxSessions int
	// DataBudget bounds the bytes of data buffers all commands of the
	// target hold at once (write data-out while it is collected and run,
	// read data-in a 256 KiB piece at a time); a command past it ends
	// with BUSY. At least MaxTransferLength. Default 256 MiB.
	DataBudget uint64
	// Logger receives connection events. Default: slog.Default().
	Logger *slog.Logger
}

// CHAPConfig makes initiators authenticate with CHAP (RFC 7143 12.1.3).
type CHAPConfig struct {
	// User and Secret are what the initiator must prove it knows.
	User, Secret string
	// MutualUser and MutualSecret, when set, are what the target answers
	// with when the initiator challenges it (mutual CHAP).
	MutualUser, MutualSecret string
}

// DefaultConfig returns the defaults; callers set TargetName and Server.
func DefaultConfig() Config {
	return Config{
		QueueDepth:               64,
		MaxRecvDataSegmentLength: 262144,
		FirstBurstLength:         65536,
		MaxBurstLength:           262144,
		MaxOutstandingR2T:        1,
		MaxTransferLength:        32 << 20,
		NOPInterval:              30 * time.Second,
		NOPTimeout:               30 * time.Second,
		LoginTimeout:             15 * time.Second,
		MaxSessions:              256,
		DataBudget:               256 << 20,
	}
}

// ErrConfig marks an unusable Config.
var ErrConfig = errors.New("iscsi: invalid config")

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.MaxSessions <= 0 {
		c.MaxSessions = d.MaxSessions
	}
	if c.QueueDepth == 0 {
		c.QueueDepth = d.QueueDepth
	}
	if c.MaxRecvDataSegmentLength == 0 {
		c.MaxRecvDataSegmentLength = d.MaxRecvDataSegmentLength
	}
	if c.FirstBurstLength == 0 {
		c.FirstBurstLength = d.FirstBurstLength
	}
	if c.MaxBurstLength == 0 {
		c.MaxBurstLength = d.MaxBurstLength
	}
	if c.MaxOutstandingR2T == 0 {
		c.MaxOutstandingR2T = d.MaxOutstandingR2T
	}
	if c.MaxTransferLength == 0 {
		c.MaxTransferLength = d.MaxTransferLength
	}
	if c.DataBudget == 0 {
		c.DataBudget = max(d.DataBudget, uint64(c.MaxTransferLength))
	}
	if c.NOPInterval == 0 {
		c.NOPInterval = d.NOPInterval
	}
	if c.NOPTimeout <= 0 {
		c.NOPTimeout = d.NOPTimeout
	}
	if c.LoginTimeout <= 0 {
		c.LoginTimeout = d.LoginTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.TargetName == "" || strings.ContainsAny(c.TargetName, " \x00,"):
		return c, fmt.Errorf("%w: target name %q", ErrConfig, c.TargetName)
	case c.Server == nil:
		return c, fmt.Errorf("%w: no task server", ErrConfig)
	case c.DataBudget < uint64(c.MaxTransferLength):
		return c, fmt.Errorf("%w: DataBudget %d below MaxTransferLength %d", ErrConfig, c.DataBudget, c.MaxTransferLength)
	case c.QueueDepth > 1<<20:
		return c, fmt.Errorf("%w: queue depth %d", ErrConfig, c.QueueDepth)
	case !inRange(c.MaxRecvDataSegmentLength, 512, 1<<24-1):
		return c, fmt.Errorf("%w: MaxRecvDataSegmentLength %d outside 512..16777215", ErrConfig, c.MaxRecvDataSegmentLength)
	case !inRange(c.FirstBurstLength, 512, 1<<24-1), !inRange(c.MaxBurstLength, 512, 1<<24-1),
		c.FirstBurstLength > c.MaxBurstLength:
		return c, fmt.Errorf("%w: burst lengths %d/%d", ErrConfig, c.FirstBurstLength, c.MaxBurstLength)
	case c.MaxOutstandingR2T > 65535:
		return c, fmt.Errorf("%w: MaxOutstandingR2T %d", ErrConfig, c.MaxOutstandingR2T)
	case c.CHAP != nil && (c.CHAP.User == "" || c.CHAP.Secret == ""):
		return c, fmt.Errorf("%w: CHAP needs a user and a secret", ErrConfig)
	case c.CHAP != nil && (c.CHAP.MutualUser == "") != (c.CHAP.MutualSecret == ""):
		return c, fmt.Errorf("%w: mutual CHAP needs both a user and a secret", ErrConfig)
	}
	return c, nil
}

func inRange(v, lo, hi uint32) bool { return v >= lo && v <= hi }
