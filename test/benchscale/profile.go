package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-san/ferry/internal/localcluster"
)

// saveProfile fetches /debug/pprof/PATH from the node (started with -pprof)
// into o.profile/file. Nothing when -profile is not set.
func saveProfile(ctx context.Context, o options, c *localcluster.Cluster, name, path, file string) error {
	if o.profile == "" {
		return nil
	}
	n, err := c.Node(name)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTPAddr()+"/debug/pprof/"+path, nil)
	if err != nil {
		return err
	}
	resp, err := n.HTTPClient().Do(req)
	if err != nil {
		return fmt.Errorf("profile %s of %s: %w", path, name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s of %s: %s", path, name, resp.Status)
	}
	if err := os.MkdirAll(o.profile, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(o.profile, file))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profileCPU starts a CPU profile of the node for d in the background; the
// returned function waits for it and returns its error.
func profileCPU(ctx context.Context, o options, c *localcluster.Cluster, name, file string, d time.Duration) func() error {
	done := make(chan error, 1)
	go func() {
		done <- saveProfile(ctx, o, c, name, fmt.Sprintf("profile?seconds=%d", int(d.Seconds())), file)
	}()
	return func() error { return <-done }
}
