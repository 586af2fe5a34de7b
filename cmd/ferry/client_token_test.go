package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

// TestTokenSent: -token and FERRY_TOKEN travel as "authorization: Bearer
// TOKEN" with the call (the flag winning), none without them, and a
// malformed token stops the command before it dials.
func TestTokenSent(t *testing.T) {
	var mu sync.Mutex
	var seen [][]string
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		seen = append(seen, md.Get(acl.AuthorizationHeader))
		mu.Unlock()
		return h(ctx, req)
	}))
	ferryv1.RegisterClusterServiceServer(srv, &fakeServer{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	addr := lis.Addr().String()
	envTok, _, _ := acl.NewToken()
	flagTok, _, _ := acl.NewToken()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"none", nil, nil, nil},
		{"environment", map[string]string{"FERRY_TOKEN": envTok}, nil, []string{acl.BearerValue(envTok)}},
		{"flag over environment", map[string]string{"FERRY_TOKEN": envTok}, []string{"-token", flagTok}, []string{acl.BearerValue(flagTok)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			if r := runFerry(t, tc.env, "", append([]string{"members", "-addr", addr}, tc.args...)...); r.code != 0 {
				t.Fatalf("members:\n%s", r)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 1 || strings.Join(seen[0], "|") != strings.Join(tc.want, "|") {
				t.Fatalf("authorization headers %q, want %q", seen, tc.want)
			}
		})
	}
	r := runFerry(t, map[string]string{"FERRY_TOKEN": "ferry_nope"}, "", "members", "-addr", addr)
	if r.code != exitUsage || !strings.Contains(r.stderr, "-token (or FERRY_TOKEN): malformed ACL token") || strings.Contains(r.stderr, "ferry_nope") {
		t.Fatalf("a malformed token:\n%s", r)
	}
}
