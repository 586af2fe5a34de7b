//go:build !linux

package localcluster

import (
	"context"
	"errors"
	"net"
)

func dialInNetns(ctx context.Context, netns, network, addr string) (net.Conn, error) {
	return nil, errors.New("localcluster: network namespaces need Linux")
}
