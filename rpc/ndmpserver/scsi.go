package ndmpserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferry-san/ferry/ndmp"
	"github.com/ferry-san/ferry/scsi/smc"
	"github.com/ferry-san/ferry/storage/library"
)

// The SCSI service: each library's robot is a SCSI media changer named
// after the library, whose CDBs scsi/smc answers from the cluster's library
// state. A MOVE MEDIUM is Cluster.Move, one Raft entry, so a cartridge a
// DMA moves is where every node (and every copy job) sees it.

// Limits on EXECUTE_CDB: a CDB is at most 260 bytes (SPC-4's
// variable-length CDB), and a DMA's timeout is capped so that a session
// cannot park its handler forever.
const (
	maxCDBLen      = 260
	maxCDBTimeout  = 5 * time.Minute
	changerProduct = "VCHANGER"
	opMoveMedium   = 0xA5
)

// robotState is a session's SCSI service: the changer it opened, if any.
type robotState struct {
	lib string
	dev *smc.Device
}

func registerSCSI(h handlers) {
	h.add(ndmp.NDMP4_SCSI_OPEN, scsiOpen)
	h.add(ndmp.NDMP4_SCSI_CLOSE, scsiClose)
	h.add(ndmp.NDMP4_SCSI_GET_STATE, scsiGetState)
	h.add(ndmp.NDMP4_SCSI_RESET_DEVICE, scsiResetDevice)
	h.add(ndmp.NDMP4_SCSI_EXECUTE_CDB, scsiExecuteCDB)
}

// changer is the smc.Library of one cluster library, as one DMA moves it.
type changer struct {
	cluster Cluster
	lib     string
	dma     string
}

// Snapshot reads the library from Cluster.Libraries, which reads the
// replicated state linearizably: every node's robot reports the same
// inventory.
func (c changer) Snapshot(ctx context.Context) (smc.Snapshot, error) {
	libs, err := c.cluster.Libraries(ctx)
	if err != nil {
		return smc.Snapshot{}, fmt.Errorf("library %s: %w", c.lib, err)
	}
	for _, l := range libs {
		if l.State != nil && l.State.Name == c.lib {
			return smc.Snapshot{State: l.State, Holders: l.Holders, Busy: l.Busy}, nil
		}
	}
	return smc.Snapshot{}, fmt.Errorf("library %s: %w", c.lib, ErrNoDevice)
}

// Move is a MOVE MEDIUM through the cluster; a hold becomes smc.ErrHeld,
// which the device server reports with the SMC sense.
func (c changer) Move(ctx context.Context, from, to library.Location) error {
	err := c.cluster.Move(ctx, c.lib, from, to, c.dma)
	if errors.Is(err, ErrHeld) {
		return fmt.Errorf("%w: %w", smc.ErrHeld, err)
	}
	return err
}

// scsiOpen opens a library's changer by the library's name (as
// CONFIG_GET_SCSI_INFO lists it). A session may have a tape drive open at
// the same time: ndmjob without -R drives the robot and the tape over one
// connection.
func scsiOpen(ctx context.Context, s *session, m *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := &ndmp.Ndmp4_scsi_open_reply{}
	req, ok := m.Body.(*ndmp.Ndmp4_scsi_open_request)
	switch {
	case !ok:
		r.Error = ndmp.NDMP4_ILLEGAL_ARGS_ERR
		return r, ndmp.NDMP4_NO_ERR
	case s.robot != nil:
		r.Error = ndmp.NDMP4_DEVICE_OPENED_ERR
		return r, ndmp.NDMP4_NO_ERR
	}
	ch := changer{cluster: s.srv.cfg.Cluster, lib: req.Device, dma: s.dma}
	if _, err := ch.Snapshot(ctx); err != nil {
		s.log.Info("NDMP SCSI open refused", "device", req.Device, "err", err)
		r.Error = clusterErrorCode(err)
		return r, ndmp.NDMP4_NO_ERR
	}
	name := req.Device
	s.robot = &robotState{lib: name, dev: smc.New(smc.Config{
		Name:    name,
		Product: changerProduct,
		Serial:  driveSerial(name, -1),
		DriveID: func(d int) string { return driveSerial(name, d) },
	}, ch)}
	s.log.Info("NDMP robot opened", "library", name)
	return r, ndmp.NDMP4_NO_ERR
}

func scsiClose(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := &ndmp.Ndmp4_scsi_close_reply{}
	if s.robot == nil {
		r.Error = ndmp.NDMP4_DEV_NOT_OPEN_ERR
		return r, ndmp.NDMP4_NO_ERR
	}
	s.log.Info("NDMP robot closed", "library", s.robot.lib)
	s.robot = nil
	return r, ndmp.NDMP4_NO_ERR
}

// scsiGetState reports the changer's SCSI address: controller 0, target
// 0, LUN 0, as REPORT LUNS says.
func scsiGetState(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := &ndmp.Ndmp4_scsi_get_state_reply{}
	if s.robot == nil {
		r.Error = ndmp.NDMP4_DEV_NOT_OPEN_ERR
		r.Target_controller, r.Target_id, r.Target_lun = -1, -1, -1
	}
	return r, ndmp.NDMP4_NO_ERR
}

// scsiResetDevice forgets what the session told the changer (PREVENT, the
// pending sense). Nothing moves: the cluster's library has no mechanism
// to reset.
func scsiResetDevice(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := &ndmp.Ndmp4_scsi_reset_device_reply{}
	if s.robot == nil {
		r.Error = ndmp.NDMP4_DEV_NOT_OPEN_ERR
		return r, ndmp.NDMP4_NO_ERR
	}
	s.robot.dev.Reset()
	return r, ndmp.NDMP4_NO_ERR
}

// scsiExecuteCDB runs one CDB on the open changer. A command that fails
// is still NDMP4_NO_ERR: the SCSI status (CHECK CONDITION) and the sense
// data in ext_sense tell the DMA, as ndmjob and Amanda's chg-ndmp read
// them. Data-in never exceeds datain_len (ndmjob copies whatever comes
// into a buffer of that size).
func scsiExecuteCDB(ctx context.Context, s *session, m *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := &ndmp.Ndmp4_execute_cdb_reply{}
	req, ok := m.Body.(*ndmp.Ndmp4_execute_cdb_request)
	switch {
	case !ok:
		r.Error = ndmp.NDMP4_ILLEGAL_ARGS_ERR
		return r, ndmp.NDMP4_NO_ERR
	case s.robot == nil:
		r.Error = ndmp.NDMP4_DEV_NOT_OPEN_ERR
		return r, ndmp.NDMP4_NO_ERR
	case req.Flags&^(ndmp.NDMP4_SCSI_DATA_IN|ndmp.NDMP4_SCSI_DATA_OUT) != 0,
		req.Flags == ndmp.NDMP4_SCSI_DATA_IN|ndmp.NDMP4_SCSI_DATA_OUT,
		len(req.Cdb) == 0 || len(req.Cdb) > maxCDBLen:
		r.Error = ndmp.NDMP4_ILLEGAL_ARGS_ERR
		return r, ndmp.NDMP4_NO_ERR
	}
	maxIn := 0
	if req.Flags&ndmp.NDMP4_SCSI_DATA_IN != 0 {
		maxIn = int(req.Datain_len)
	}
	// A timeout bounds the command (a move waits for a Raft commit); 0 is
	// taken as "the server's default", not "fail at once".
	timeout := maxCDBTimeout
	if t := time.Duration(req.Timeout) * time.Millisecond; t > 0 && t < timeout {
		timeout = t
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp := s.robot.dev.Execute(cctx, smc.Command{CDB: req.Cdb, DataOut: req.Dataout, MaxIn: maxIn})
	r.Status = uint32(resp.Status)
	r.Datain = resp.Data
	r.Ext_sense = resp.Sense
	switch {
	case resp.Moved != nil:
		s.log.Info("NDMP robot moved a cartridge", "library", s.robot.lib,
			"from", resp.Moved.From.String(), "to", resp.Moved.To.String())
	case resp.Err != nil && req.Cdb[0] == opMoveMedium:
		s.log.Info("NDMP robot move refused", "library", s.robot.lib, "cdb", fmt.Sprintf("% x", req.Cdb), "sense", resp.Err.Error())
	case resp.Err != nil:
		s.log.Debug("NDMP robot command failed", "library", s.robot.lib, "cdb", fmt.Sprintf("% x", req.Cdb), "sense", resp.Err.Error())
	}
	return r, ndmp.NDMP4_NO_ERR
}
