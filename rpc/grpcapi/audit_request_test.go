package grpcapi

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ferry-san/ferry/cluster/fsm"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

func TestRequestSummary(t *testing.T) {
	disk := func(name string) *ferryv1.Endpoint {
		return &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: name}}}
	}
	for _, tc := range []struct {
		name string
		req  any
		want string
		// never lists what must not appear, whatever want says.
		never []string
	}{
		{"bootstrap", &ferryv1.AclBootstrapRequest{}, "", nil},
		{"create token", &ferryv1.CreateTokenRequest{Name: "backup-app", Role: "operator", Ttl: durationpb.New(720 * time.Hour)},
			"name=backup-app role=operator ttl=720h0m0s", nil},
		{"set secret: keys, never values", &ferryv1.SetSecretRequest{Name: "iscsi-chap", Values: map[string]string{"user": "iqn.2026-12.com.example:backup", "secret": "chap-secret-12", "mutual-secret": "other-secret"}},
			"name=iscsi-chap values[mutual-secret]=<redacted> values[secret]=<redacted> values[user]=<redacted>", []string{"chap-secret-12", "other-secret", "iqn.2026"}},
		{"submit", &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{Name: "nightly db01", Source: disk("src"), Destination: disk("dst"), Streams: 2}, IdempotencyKey: "k1"},
			`spec.name="nightly db01" spec.source.kind=DEVICE_KIND_DISK spec.source.device.name=src spec.destination.kind=DEVICE_KIND_DISK spec.destination.device.name=dst spec.streams=2 idempotency_key=k1`, nil},
		{"bytes by their length", &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{XcopyParameterList: make([]byte, 64)}}, "spec.xcopy_parameter_list=<64 bytes>", nil},
		{"repeated", &ferryv1.SubmitJobRequest{Streams: []*ferryv1.JobSpec{{Name: "a"}, {Name: "b"}}}, "streams[0].name=a streams[1].name=b", nil},
		{"an empty message says nothing", &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{Options: &ferryv1.JobOptions{}}}, "", nil},
		{"cancel", &ferryv1.CancelJobRequest{Id: "j-1"}, "id=j-1", nil},
		{"quoting", &ferryv1.CreateDiskRequest{Name: "a=b", Path: "/san/x y.img", SizeBytes: 4096, Thin: true}, `name="a=b" path="/san/x y.img" size_bytes=4096 thin=true`, nil},
		// A field named like a secret, in a request that does not exist yet:
		// the word rule catches it (ListJobsRequest's page_token stands in
		// for it here).
		{"secret by its name", &ferryv1.ListJobsRequest{PageToken: "ferry_secret", PageSize: 3}, "page_size=3 page_token=<redacted>", []string{"ferry_secret"}},
		{"keyring: the gossip key", &ferryv1.KeyringKeyRequest{Key: []byte("0123456789abcdef")}, "key=<redacted>", []string{"0123456789abcdef", "16 bytes"}},
		{"not a message", 42, "int", nil},
		{"nil", nil, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := requestSummary(tc.req)
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			for _, s := range tc.never {
				if strings.Contains(got, s) {
					t.Errorf("%q shows %q", got, s)
				}
			}
		})
	}
}

func TestRequestSummaryIsShort(t *testing.T) {
	many := &ferryv1.JobSpec{}
	for i := range 100_000 {
		many.Segments = append(many.Segments, &ferryv1.Segment{SourceOffset: uint64(i), Length: 1})
	}
	for _, req := range []*ferryv1.SubmitJobRequest{
		{Spec: &ferryv1.JobSpec{Name: strings.Repeat("é", fsm.MaxAuditText)}},
		// Its walk stops once the summary is long enough: a huge request
		// costs no more than a long one.
		{Spec: many},
	} {
		got := requestSummary(req)
		if len(got) > fsm.MaxAuditText || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
			t.Fatalf("%d bytes, valid UTF-8 %v: %q", len(got), utf8.ValidString(got), got[len(got)-10:])
		}
	}
	if n := testing.AllocsPerRun(10, func() { requestSummary(&ferryv1.SubmitJobRequest{Spec: many}) }); n > 200 {
		t.Errorf("summarising 100,000 segments allocates %v times: the walk did not stop", n)
	}
}

func TestIsSecret(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  bool
	}{
		{"ferry.v1.SetSecretRequest.name", false},
		{"ferry.v1.AclBootstrapResponse.secret", true},
		{"ferry.v1.SubmitJobRequest.idempotency_key", false},
		{"ferry.v1.ListJobsRequest.page_token", true},
		{"ferry.v1.AclToken.secret_sha256", true},
		{"ferry.v1.CreateTokenRequest.role", false},
	} {
		fd := fieldByName(t, tc.field)
		if got := isSecret(fd); got != tc.want {
			t.Errorf("isSecret(%s) = %v", tc.field, got)
		}
	}
}

// fieldByName finds a field by its full name, e.g. ferry.v1.AclToken.name.
func fieldByName(t *testing.T, full string) protoreflect.FieldDescriptor {
	t.Helper()
	i := strings.LastIndex(full, ".")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(full[:i]))
	if err != nil {
		t.Fatal(err)
	}
	fd := d.(protoreflect.MessageDescriptor).Fields().ByName(protoreflect.Name(full[i+1:]))
	if fd == nil {
		t.Fatalf("no field %s", full)
	}
	return fd
}

// BenchmarkRequestSummary: what summarising a submit costs each call.
func BenchmarkRequestSummary(b *testing.B) {
	req := &ferryv1.SubmitJobRequest{Spec: &ferryv1.JobSpec{Name: "db01 → A00001L9",
		Source:      &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_DISK, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "db01"}}, Lba: 2048, Blocks: 2048},
		Destination: &ferryv1.Endpoint{Kind: ferryv1.DeviceKind_DEVICE_KIND_TAPE, Device: &ferryv1.DeviceRef{Ref: &ferryv1.DeviceRef_Name{Name: "A00001L9"}}},
		Options:     &ferryv1.JobOptions{Priority: 5}}, IdempotencyKey: "bench-1-2-3"}
	for b.Loop() {
		requestSummary(req)
	}
}
