package ndmpserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ferry-san/ferry/ndmp"
)

// The CONFIG service: what this node is and what it offers.
func registerConfig(h handlers) {
	h.add(ndmp.NDMP4_CONFIG_GET_HOST_INFO, configGetHostInfo)
	h.addOpen(ndmp.NDMP4_CONFIG_GET_SERVER_INFO, configGetServerInfo)
	h.add(ndmp.NDMP4_CONFIG_GET_CONNECTION_TYPE, func(context.Context, *session, *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_config_get_connection_type_reply{Addr_types: []ndmp.Ndmp4_addr_type{ndmp.NDMP4_ADDR_LOCAL, ndmp.NDMP4_ADDR_TCP}}, ndmp.NDMP4_NO_ERR
	})
	h.add(ndmp.NDMP4_CONFIG_GET_BUTYPE_INFO, func(context.Context, *session, *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_config_get_butype_info_reply{Butype_info: []ndmp.Ndmp4_butype_info{tarButype()}}, ndmp.NDMP4_NO_ERR
	})
	h.add(ndmp.NDMP4_CONFIG_GET_FS_INFO, configGetFSInfo)
	h.add(ndmp.NDMP4_CONFIG_GET_TAPE_INFO, configGetTapeInfo)
	h.add(ndmp.NDMP4_CONFIG_GET_SCSI_INFO, configGetSCSIInfo)
	h.add(ndmp.NDMP4_CONFIG_GET_EXT_LIST, func(context.Context, *session, *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
		return &ndmp.Ndmp4_config_get_ext_list_reply{}, ndmp.NDMP4_NO_ERR // no extensions
	})
	h.add(ndmp.NDMP4_CONFIG_SET_EXT_LIST, func(_ context.Context, _ *session, m *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
		r := &ndmp.Ndmp4_config_set_ext_list_reply{}
		if len(m.Body.(*ndmp.Ndmp4_config_set_ext_list_request).Ndmp4_accepted_ext) > 0 {
			r.Error = ndmp.NDMP4_CLASS_NOT_SUPPORTED
		}
		return r, ndmp.NDMP4_NO_ERR
	})
}

func configGetHostInfo(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	host, _ := os.Hostname()
	var u unix.Utsname
	osType, osVers := "Linux", ""
	if unix.Uname(&u) == nil {
		osType, osVers = unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Release[:])
	}
	// The host id names the node: stable across restarts, distinct per
	// node, the way DMAs use it to tell servers apart.
	id := sha256.Sum256([]byte(s.srv.cfg.Cluster.NodeName()))
	return &ndmp.Ndmp4_config_get_host_info_reply{
		Hostname: host + " (ferry node " + s.srv.cfg.Cluster.NodeName() + ")",
		Os_type:  osType,
		Os_vers:  osVers,
		Hostid:   hex.EncodeToString(id[:4]),
	}, ndmp.NDMP4_NO_ERR
}

func configGetServerInfo(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := &ndmp.Ndmp4_config_get_server_info_reply{
		Vendor_name:     "Ferry",
		Product_name:    "Ferry SAN data mover",
		Revision_number: s.srv.cfg.Version,
	}
	for _, a := range s.srv.cfg.Auth {
		switch a {
		case AuthNone:
			r.Auth_type = append(r.Auth_type, ndmp.NDMP4_AUTH_NONE)
		case AuthText:
			r.Auth_type = append(r.Auth_type, ndmp.NDMP4_AUTH_TEXT)
		case AuthMD5:
			r.Auth_type = append(r.Auth_type, ndmp.NDMP4_AUTH_MD5)
		}
	}
	return r, ndmp.NDMP4_NO_ERR
}

// configGetFSInfo lists the directories DATA may back up (none without
// -ndmp-data-root).
func configGetFSInfo(_ context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := &ndmp.Ndmp4_config_get_fs_info_reply{}
	for _, root := range s.srv.cfg.DataRoots {
		var st unix.Statfs_t
		fi := ndmp.Ndmp4_fs_info{Fs_type: "local", Fs_logical_device: root, Fs_physical_device: root}
		if err := unix.Statfs(root, &st); err != nil {
			fi.Unsupported = ndmp.NDMP4_FS_INFO_TOTAL_SIZE_UNS | ndmp.NDMP4_FS_INFO_USED_SIZE_UNS | ndmp.NDMP4_FS_INFO_AVAIL_SIZE_UNS |
				ndmp.NDMP4_FS_INFO_TOTAL_INODES_UNS | ndmp.NDMP4_FS_INFO_USED_INODES_UNS
			fi.Fs_status = err.Error()
		} else {
			bs := uint64(st.Bsize)
			fi.Total_size = st.Blocks * bs
			fi.Used_size = (st.Blocks - st.Bfree) * bs
			fi.Avail_size = st.Bavail * bs
			fi.Total_inodes = st.Files
			fi.Used_inodes = st.Files - st.Ffree
			fi.Fs_status = "online"
		}
		r.Fs_info = append(r.Fs_info, fi)
	}
	return r, ndmp.NDMP4_NO_ERR
}

// Models reported for the cluster's devices.
const (
	tapeModel    = "FERRY-VTAPE"
	changerModel = "FERRY-VCHANGER"
)

// DriveName is how NDMP names a cluster drive: LIBRARY/INDEX.
func DriveName(lib string, drive int) string { return lib + "/" + strconv.Itoa(drive) }

// configGetTapeInfo lists every drive of every library this node reaches.
func configGetTapeInfo(ctx context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := &ndmp.Ndmp4_config_get_tape_info_reply{}
	libs, err := s.srv.cfg.Cluster.Libraries(ctx)
	if err != nil {
		s.log.Warn("NDMP tape info: libraries unavailable", "err", err)
		r.Error = ndmp.NDMP4_UNDEFINED_ERR
		return r, ndmp.NDMP4_NO_ERR
	}
	info := ndmp.Ndmp4_device_info{Model: tapeModel}
	for _, l := range libs {
		for d := 0; d < l.State.Drives; d++ {
			info.Caplist = append(info.Caplist, ndmp.Ndmp4_device_capability{
				Device: DriveName(l.State.Name, d),
				Attr:   0,
				Capability: []ndmp.Ndmp4_pval{
					{Name: "EXECUTE_CDB", Value: "t"},
					{Name: "SERIAL_NUMBER", Value: driveSerial(l.State.Name, d)},
				},
			})
		}
	}
	if len(info.Caplist) > 0 {
		r.Tape_info = append(r.Tape_info, info)
	}
	return r, ndmp.NDMP4_NO_ERR
}

// driveSerial is a drive's serial number, the same on every node.
func driveSerial(lib string, drive int) string {
	h := sha256.Sum256([]byte(DriveName(lib, drive)))
	return fmt.Sprintf("FRY%X", h[:6])
}

// configGetSCSIInfo lists each library's changer, named after the library.
func configGetSCSIInfo(ctx context.Context, s *session, _ *ndmp.Message) (ndmp.Body, ndmp.Ndmp4_error) {
	r := &ndmp.Ndmp4_config_get_scsi_info_reply{}
	libs, err := s.srv.cfg.Cluster.Libraries(ctx)
	if err != nil {
		s.log.Warn("NDMP SCSI info: libraries unavailable", "err", err)
		r.Error = ndmp.NDMP4_UNDEFINED_ERR
		return r, ndmp.NDMP4_NO_ERR
	}
	info := ndmp.Ndmp4_device_info{Model: changerModel}
	for _, l := range libs {
		info.Caplist = append(info.Caplist, ndmp.Ndmp4_device_capability{
			Device:     l.State.Name,
			Capability: []ndmp.Ndmp4_pval{{Name: "SERIAL_NUMBER", Value: driveSerial(l.State.Name, -1)}},
		})
	}
	if len(info.Caplist) > 0 {
		r.Scsi_info = append(r.Scsi_info, info)
	}
	return r, ndmp.NDMP4_NO_ERR
}
