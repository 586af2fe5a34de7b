package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/proto/ferryv1"
)

func verifyCommand() *clientCommand {
	return &clientCommand{
		name:    "verify",
		args:    "SRC DST",
		nargs:   2,
		summary: "compare the SHA-256 of two disk ranges or tape files",
		details: "SRC and DST are endpoints as \"ferry copy\" takes them. The node hashes both sides (at the\n" +
			"same time) and ferry prints both digests; the exit status is 1 if they differ. Hashing reads\n" +
			"every byte: raise -timeout for large devices. job:ID is what a copy to a pool wrote: its\n" +
			"volumes read in order as one stream, however many cartridges it spanned:\n" +
			"  ferry verify disk:db01 job:7b0c…",
		flags: func(*flag.FlagSet) action {
			return func(ctx context.Context, c *client, args []string) error {
				var eps [2]*ferryv1.HashRequest
				for i, a := range args {
					if id, ok := strings.CutPrefix(a, jobSourcePrefix); ok {
						parts, err := jobParts(ctx, c, id)
						if err != nil {
							return err
						}
						eps[i] = &ferryv1.HashRequest{Parts: parts}
						continue
					}
					e, err := parseEndpoint(a)
					if err != nil {
						return err
					}
					eps[i] = &ferryv1.HashRequest{Endpoint: e}
				}
				hashes, err := hashBoth(ctx, c, args, eps)
				if err != nil {
					return err
				}
				same := hashes[0].GetSha256() == hashes[1].GetSha256() && hashes[0].GetBytes() == hashes[1].GetBytes()
				if c.format == "json" {
					if err := writeVerifyJSON(c, args, hashes, same); err != nil {
						return err
					}
				} else {
					for i, h := range hashes {
						fmt.Fprintf(c.stdout, "sha256 %s  %d bytes  %s\n", h.GetSha256(), h.GetBytes(), args[i])
					}
				}
				if !same {
					return fmt.Errorf("verify: %s and %s differ", args[0], args[1])
				}
				if c.format != "json" {
					fmt.Fprintf(c.stdout, "match: %s and %s hold the same %d bytes\n", args[0], args[1], hashes[0].GetBytes())
				}
				return nil
			}
		},
	}
}

// hashBoth asks for the two hashes at once: each reads a whole device range.
func hashBoth(ctx context.Context, c *client, args []string, eps [2]*ferryv1.HashRequest) ([2]*ferryv1.HashResponse, error) {
	ctx, cancel := c.rpcContext(ctx)
	defer cancel()
	devices := ferryv1.NewDeviceServiceClient(c.conn)
	var hashes [2]*ferryv1.HashResponse
	var errs [2]error
	var wg sync.WaitGroup
	for i, e := range eps {
		wg.Go(func() {
			hashes[i], errs[i] = devices.Hash(ctx, e)
			if errs[i] != nil {
				cancel() // the answer is an error already: stop the other read
			}
		})
	}
	wg.Wait()
	// Report the first real failure in argument order, not the other side
	// cancelled because of it.
	var first error
	for i, err := range errs {
		if err == nil {
			continue
		}
		err = fmt.Errorf("hashing %s: %w", args[i], err)
		if status.Code(errs[i]) != codes.Canceled {
			return hashes, err
		}
		if first == nil {
			first = err
		}
	}
	return hashes, first
}

// jobParts are the tape files a copy to a pool wrote, its volumes in
// order, as one Hash reads them.
func jobParts(ctx context.Context, c *client, id string) ([]*ferryv1.Endpoint, error) {
	rctx, cancel := c.rpcContext(ctx)
	defer cancel()
	j, err := c.jobs.Get(rctx, &ferryv1.GetJobRequest{Id: id})
	if err != nil {
		return nil, err
	}
	vols := j.GetResult().GetVolumes()
	if len(vols) == 0 {
		return nil, fmt.Errorf("job %s lists no volumes: only a copy to a pool that succeeded does (verify its tape file, tape:BARCODE#FILE)", id)
	}
	var parts []*ferryv1.Endpoint
	for _, v := range vols {
		parts = append(parts, fsm.VolumeEndpoint(v))
	}
	return parts, nil
}

// writeVerifyJSON prints both hashes and the verdict as one JSON object.
func writeVerifyJSON(c *client, args []string, hashes [2]*ferryv1.HashResponse, same bool) error {
	type side struct {
		Endpoint string          `json:"endpoint"`
		Hash     json.RawMessage `json:"hash"`
	}
	out := struct {
		Source      side `json:"source"`
		Destination side `json:"destination"`
		Match       bool `json:"match"`
	}{Match: same}
	for i, s := range []*side{&out.Source, &out.Destination} {
		raw, err := protojson.Marshal(hashes[i])
		if err != nil {
			return fmt.Errorf("encoding hash as JSON: %w", err)
		}
		*s = side{Endpoint: args[i], Hash: raw}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	_, err = fmt.Fprintf(c.stdout, "%s\n", b)
	return err
}
