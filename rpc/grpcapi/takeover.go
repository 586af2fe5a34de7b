package grpcapi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ferry-san/ferry/storage/fence"
)

// adoptFence looks at the fence beside a device about to be registered.
// A fence of another cluster — or one without a cluster holding an epoch
// above anything this cluster has reached, which cannot be this cluster's,
// as epochs are its Raft indexes — would refuse every job on the device.
// Without takeOver such a device is refused, naming the flag that takes it
// over; with it, adoptFence returns what rewrites the fence for this
// cluster at its applied index, below every epoch a job placed from then
// on will have. The caller runs it only once the registration committed: a
// registration refused (a name taken, the file registered already) must
// not take the device from the cluster that uses it. flag is how the
// caller's CLI spells take_over.
func (s *DeviceServer) adoptFence(ctx context.Context, path string, takeOver bool, flag string) (takeOverFence func(context.Context) error, err error) {
	if err := linearize(ctx, s.node, false); err != nil {
		return nil, err
	}
	rec, err := fence.Read(path)
	if err != nil {
		return nil, status.Errorf(codes.FailedPrecondition, "path: %v (repair or remove the fence file)", err)
	}
	rs := s.node.RaftStatus()
	cluster, applied := rs.GetClusterId(), rs.GetAppliedIndex()
	var owner string
	switch {
	case rec.Cluster != "" && rec.Cluster != cluster:
		owner = fmt.Sprintf("cluster %s (epoch %d)", rec.Cluster, rec.Epoch)
	case rec.Cluster == "" && rec.Epoch > applied:
		owner = fmt.Sprintf("a cluster that wrote no id into it (epoch %d, beyond this cluster's index %d)", rec.Epoch, applied)
	default:
		return nil, nil
	}
	if !takeOver {
		return nil, status.Errorf(codes.FailedPrecondition,
			"path: the fence of %s belongs to %s, not to this cluster (%s), so every copy to it would be refused: "+
				"if that cluster no longer uses the device, register it with %s to take it over", path, owner, cluster, flag)
	}
	return func(ctx context.Context) error {
		f, err := fence.Open(path, cluster)
		if errors.Is(err, fence.ErrUnsupported) {
			return nil // nothing fences such a device
		}
		if err != nil {
			return fileError("path", err)
		}
		defer f.Close()
		ctx, cancel := withDefaultTimeout(ctx)
		defer cancel()
		if err := f.TakeOver(ctx, applied); err != nil {
			return toStatus(fmt.Errorf("registered, but taking over the fence of %s failed (copies to it are refused until it is removed and added again with take-over): %w", path, err))
		}
		return nil
	}, nil
}
