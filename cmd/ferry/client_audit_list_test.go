package main

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

// fakeAudit answers List with its records and remembers the request.
type fakeAudit struct {
	ferryv1.UnimplementedAuditServiceServer
	resp *ferryv1.ListAuditResponse
	got  chan *ferryv1.ListAuditRequest
}

func (f *fakeAudit) List(_ context.Context, req *ferryv1.ListAuditRequest) (*ferryv1.ListAuditResponse, error) {
	f.got <- proto.Clone(req).(*ferryv1.ListAuditRequest)
	return f.resp, nil
}

func TestAuditListGolden(t *testing.T) {
	at := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	fake := &fakeAudit{got: make(chan *ferryv1.ListAuditRequest, 1), resp: &ferryv1.ListAuditResponse{Omitted: 3, Records: []*ferryv1.AuditRecord{
		{Seq: 4, Time: timestamppb.New(at), Who: "token:backup-app", Addr: "10.0.0.5:51234", Node: "n2", Method: "/ferry.v1.JobService/Submit",
			Request: "spec.source.kind=DEVICE_KIND_DISK spec.source.device.name=src", Code: "OK"},
		{Seq: 5, Time: timestamppb.New(at.Add(time.Second)), Who: "token:monitor", Addr: "10.0.0.6:40000", Node: "n1", Method: "/ferry.v1.JobService/Cancel",
			Request: "id=j-1", Code: "PERMISSION_DENIED", Message: `ACL token "monitor" has role read; /ferry.v1.JobService/Cancel needs role operator`},
		{Seq: 6, Time: timestamppb.New(at.Add(2 * time.Second)), Who: "certificate:spiffe://ferry/client/cli", Addr: "10.0.0.7:1", Node: "n3",
			Method: "/ferry.v1.AclService/SetSecret", Request: "name=ndmp values[password]=<redacted> values[user]=<redacted>", Code: "OK"},
	}}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	ferryv1.RegisterAuditServiceServer(srv, fake)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	addr := lis.Addr().String()

	r := runFerry(t, nil, "", "audit", "list", "-addr", addr, "-who", "backup-app", "-since", "2026-12-01T00:00:00Z", "-limit", "3")
	checkGolden(t, "audit_list", r.String())
	req := <-fake.got
	if req.GetWho() != "backup-app" || req.GetLimit() != 3 || !req.GetSince().AsTime().Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || req.GetStale() {
		t.Errorf("request %v", req)
	}
	for _, tc := range []struct{ golden, flag, value string }{
		{"audit_list_bad_since", "-since", "yesterday"},
		{"audit_list_bad_limit", "-limit", "0"},
	} {
		checkGolden(t, tc.golden, runFerry(t, nil, "", "audit", "list", "-addr", addr, tc.flag, tc.value).String())
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"24h", now.Add(-24 * time.Hour), true},
		{"90m", now.Add(-90 * time.Minute), true},
		{"0s", now, true},
		{"2026-12-01T00:00:00Z", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-12-01T01:00:00+01:00", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), true},
		{"-1h", time.Time{}, false},
		{"2026-12-01", time.Time{}, false},
		{"7d", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, err := parseSince(tc.in, now)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseSince(%q) = %v, %v", tc.in, got, err)
		}
	}
}
