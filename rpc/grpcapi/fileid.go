package grpcapi

import (
	"os"
	"path/filepath"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/devicedirs"
)

// canonicalNewPath is devicedirs.Canonical for a file about to be created: its
// directory must exist, and is resolved; the name is kept as given (a
// dangling symlink there is refused, as O_EXCL would refuse it).
func canonicalNewPath(path string) (string, error) {
	dir, err := devicedirs.Canonical(filepath.Dir(filepath.Clean(path)))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(path)), nil
}

// identify returns what the file at path is, whatever names it: its
// canonical path and its identity. A directory is identified like a file
// (a library is one).
func identify(path string) (string, *ferryv1.FileIdentity, error) {
	canon, err := devicedirs.Canonical(path)
	if err != nil {
		return "", nil, err
	}
	info, err := os.Stat(canon)
	if err != nil {
		return "", nil, err
	}
	// Without an identity (a system that has none) the canonical path
	// alone tells devices apart.
	id, _ := fileIdentity(info)
	return canon, id, nil
}

// reachedByPath refuses a file that a registered device's path leads to
// now, though the registry recorded another identity for that device (its
// file was moved away or replaced, and the path reused): the device writes
// whatever file its path names, so that file is the device's, and a second
// registration of it would let two jobs write it under two fences. The
// registry itself refuses the identity it recorded, wherever that file went.
// Paths are looked up on this node, as the new file's identity was, so the
// two compare whatever device numbers other nodes' mounts give.
func (s *DeviceServer) reachedByPath(id *ferryv1.FileIdentity) error {
	if id == nil {
		return nil
	}
	type owner struct {
		kind, name, path string
		id               *ferryv1.FileIdentity
	}
	st := s.node.FSM()
	var owners []owner
	for _, d := range st.Disks() {
		owners = append(owners, owner{"disk", d.GetName(), d.GetPath(), d.GetIdentity()})
	}
	for _, c := range st.Cartridges("") {
		owners = append(owners, owner{"cartridge", c.GetBarcode(), c.GetPath(), c.GetIdentity()})
	}
	for _, o := range owners {
		if proto.Equal(o.id, id) {
			continue // the registry refuses it, naming the device
		}
		info, err := os.Stat(o.path)
		if err != nil {
			continue // nothing at the path: nothing to write twice
		}
		if got, ok := fileIdentity(info); ok && proto.Equal(got, id) {
			return status.Errorf(codes.AlreadyExists,
				"path: it is the file %s %q writes, at %s, which is no longer the file registered as %q (it was moved or replaced): remove %s %q first",
				o.kind, o.name, o.path, o.name, o.kind, o.name)
		}
	}
	return nil
}
