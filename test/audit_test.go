package test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/ferry-san/ferry/internal/localcluster"
	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/security/acl"
)

// auditCall is one call of TestAuditTrail's script and the record it must
// leave.
type auditCall struct {
	node   string
	token  string // "" none
	args   []string
	method string
	who    string // the record's who; a trailing '*' matches any rest
	code   string
	// request and message are parts of the record's; never must appear in
	// neither.
	request, message string
	never            []string
}

// TestAuditTrail: a secure 3-node cluster, its ACLs bootstrapped by the
// script's first call. A scripted sequence of 20 mutating calls through
// all three nodes — tokens made and revoked, devices registered, a secret
// set, a copy submitted and cancelled, and calls refused for a token's
// role, for want of a token, for an unknown or revoked one, and by the
// service — with reads between them, yields exactly those 20 audit
// records, with who, where from, which node, what and the outcome, the
// same on every node; no secret is in any of them.
func TestAuditTrail(t *testing.T) {
	devs := t.TempDir()
	// Copies stay queued (no node runs jobs), so that the cancel's outcome
	// is known.
	c := newClusterWith(t, localcluster.Config{ExtraArgs: []string{"-device-dirs", devs, "-run-jobs=false"}})
	names := nodeNames(3)
	startNodes(t, c, names)
	clis := map[string]cli{}
	for _, name := range names {
		n, _ := c.Node(name)
		clis[name] = nodeCLI(t, c, n)
	}
	start := time.Now()
	as := func(token string, args ...string) []string {
		if token != "" {
			args = append(args, "-token", token)
		}
		return args
	}
	unknown, _, err := acl.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	const cert = "certificate:spiffe://ferry/client/*"
	path := func(name string) string { return filepath.Join(devs, name) }

	// The script. Tokens made by earlier calls are filled in as it runs.
	var admin, operator, reader, jobID string
	steps := []func() auditCall{
		func() auditCall {
			return auditCall{node: "n1", args: []string{"acl", "bootstrap"}, method: "AclService/Bootstrap", who: cert, code: "OK"}
		},
		func() auditCall {
			return auditCall{node: "n2", token: admin, args: []string{"acl", "token", "create", "--name", "backup-app", "--role", "operator", "--ttl", "720h"},
				method: "AclService/CreateToken", who: "token:management", code: "OK", request: "name=backup-app role=operator ttl=720h0m0s"}
		},
		func() auditCall {
			return auditCall{node: "n3", token: admin, args: []string{"acl", "token", "create", "--name", "monitor", "--role", "read"},
				method: "AclService/CreateToken", who: "token:management", code: "OK", request: "name=monitor role=read"}
		},
		func() auditCall {
			return auditCall{node: "n1", token: admin, args: []string{"disk", "create", "--name", "src", "--size", "1MiB", "--path", path("src.img")},
				method: "DeviceService/CreateDisk", who: "token:management", code: "OK", request: "name=src path=" + path("src.img")}
		},
		func() auditCall {
			return auditCall{node: "n2", token: admin, args: []string{"disk", "create", "--name", "dst", "--size", "1MiB", "--path", path("dst.img")},
				method: "DeviceService/CreateDisk", who: "token:management", code: "OK", request: "name=dst"}
		},
		func() auditCall {
			return auditCall{node: "n3", token: admin, args: []string{"library", "create", "--name", "lib1", "--dir", path("lib1"), "--slots", "2", "--drives", "1", "--capacity", "64MiB"},
				method: "DeviceService/CreateLibrary", who: "token:management", code: "OK", request: "name=lib1"}
		},
		func() auditCall {
			return auditCall{node: "n1", token: operator, args: []string{"tape", "label", "--library", "lib1", "--slot", "1", "--barcode", "A00001L9"},
				method: "DeviceService/LabelTape", who: "token:backup-app", code: "OK", request: "barcode=A00001L9"}
		},
		func() auditCall {
			return auditCall{node: "n2", token: admin, args: []string{"acl", "secret", "set", "iscsi-chap", "user=iqn.2026-12.io.ferry:backup", "secret=chap-secret-12"},
				method: "AclService/SetSecret", who: "token:management", code: "OK",
				request: "name=iscsi-chap values[secret]=<redacted> values[user]=<redacted>", never: []string{"chap-secret-12", "iqn.2026-12.io.ferry:backup"}}
		},
		func() auditCall {
			return auditCall{node: "n3", token: operator, args: []string{"copy", "--detach", "disk:src", "disk:dst"},
				method: "JobService/Submit", who: "token:backup-app", code: "OK", request: "spec.source.device.name=src"}
		},
		func() auditCall {
			return auditCall{node: "n1", token: operator, args: []string{"job", "cancel", jobID},
				method: "JobService/Cancel", who: "token:backup-app", code: "OK", request: "id=" + jobID}
		},
		func() auditCall {
			return auditCall{node: "n2", token: operator, args: []string{"job", "cancel", "j-nope"},
				method: "JobService/Cancel", who: "token:backup-app", code: "NOT_FOUND", request: "id=j-nope", message: "j-nope"}
		},
		func() auditCall {
			return auditCall{node: "n3", token: reader, args: []string{"copy", "--detach", "disk:dst", "disk:src"},
				method: "JobService/Submit", who: "token:monitor", code: "PERMISSION_DENIED", request: "spec.source.device.name=dst", message: `"monitor" has role read`}
		},
		func() auditCall {
			return auditCall{node: "n1", args: []string{"disk", "create", "--name", "x1", "--size", "1MiB", "--path", path("x1.img")},
				method: "DeviceService/CreateDisk", who: cert, code: "UNAUTHENTICATED", request: "name=x1", message: "no ACL token"}
		},
		func() auditCall {
			return auditCall{node: "n2", token: unknown, args: []string{"disk", "create", "--name", "x2", "--size", "1MiB", "--path", path("x2.img")},
				method: "DeviceService/CreateDisk", who: cert, code: "UNAUTHENTICATED", request: "name=x2", message: "unknown or revoked", never: []string{unknown}}
		},
		func() auditCall {
			return auditCall{node: "n3", args: []string{"acl", "bootstrap"}, method: "AclService/Bootstrap", who: cert, code: "FAILED_PRECONDITION", message: "already bootstrapped"}
		},
		func() auditCall {
			return auditCall{node: "n1", token: operator, args: []string{"tape", "protect", "A00001L9"},
				method: "DeviceService/ProtectTape", who: "token:backup-app", code: "OK", request: "barcode=A00001L9 write_protected=true"}
		},
		func() auditCall {
			return auditCall{node: "n2", token: operator, args: []string{"tape", "unprotect", "A00001L9"},
				method: "DeviceService/ProtectTape", who: "token:backup-app", code: "OK", request: "barcode=A00001L9"}
		},
		func() auditCall {
			return auditCall{node: "n3", token: admin, args: []string{"acl", "token", "revoke", "monitor"},
				method: "AclService/RevokeToken", who: "token:management", code: "OK", request: "name=monitor"}
		},
		func() auditCall {
			return auditCall{node: "n1", token: reader, args: []string{"disk", "create", "--name", "x3", "--size", "1MiB", "--path", path("x3.img")},
				method: "DeviceService/CreateDisk", who: cert, code: "UNAUTHENTICATED", request: "name=x3", message: "unknown or revoked"}
		},
		func() auditCall {
			return auditCall{node: "n2", token: operator, args: []string{"acl", "token", "create", "--name", "mine", "--role", "admin"},
				method: "AclService/CreateToken", who: "token:backup-app", code: "PERMISSION_DENIED", request: "name=mine role=admin", message: "CreateToken needs role admin"}
		},
	}
	// Reads between the calls: none of them is recorded.
	reads := [][]string{{"acl", "whoami"}, {"job", "list"}, {"disk", "list"}, {"members"}, {"audit", "list"}, {"acl", "token", "list"}}
	var script []auditCall
	for i, step := range steps {
		call := step()
		r := clis[call.node].run(as(call.token, call.args...)...)
		if (r.code == 0) != (call.code == "OK") {
			t.Fatalf("call %d, %s: want %s:\n%s", i+1, call.method, call.code, r)
		}
		switch i {
		case 0:
			admin = tokenIn(t, r)
		case 1:
			operator = tokenIn(t, r)
		case 2:
			reader = tokenIn(t, r)
		case 8:
			jobID = strings.TrimSpace(r.stdout)
		}
		if admin != "" {
			clis[names[i%3]].ok(as(admin, reads[i%len(reads)]...)...)
		}
		script = append(script, call)
	}
	if len(script) != 20 {
		t.Fatalf("the script has %d calls", len(script))
	}
	t.Logf("20 calls and their reads in %v", time.Since(start).Round(time.Millisecond))

	// Every node's replica, each read through its own node: exactly the
	// 20 records, the same on every node.
	var first []*ferryv1.AuditRecord
	for _, name := range names {
		recs := waitAuditRecords(t, clis[name], admin, len(script))
		if first == nil {
			first = recs
			checkAuditRecords(t, recs, script, start)
		} else if !slices.EqualFunc(recs, first, func(a, b *ferryv1.AuditRecord) bool { return proto.Equal(a, b) }) {
			t.Errorf("%s's trail differs from n1's", name)
		}
	}
	t.Logf("the trail on every node after %v", time.Since(start).Round(time.Millisecond))

	// The filters, through the CLI's table.
	r := clis["n3"].ok(as(admin, "audit", "list", "--who", "monitor")...)
	if got := strings.Count(r.stdout, "token:monitor"); got != 1 {
		t.Errorf("audit list --who monitor shows %d of its records:\n%s", got, r)
	}
	if r := clis["n2"].ok(as(admin, "audit", "list", "--since", "1h", "--limit", "3")...); strings.Count(r.stdout, "\n") != 4 || !strings.Contains(r.stderr, "17 older matching records not shown") {
		t.Errorf("audit list --limit 3:\n%s", r)
	}
	clis["n1"].fails(1, []string{"permission denied", "List needs role admin"}, as(operator, "audit", "list")...)
	clis["n1"].fails(2, []string{"-since", "RFC 3339"}, as(admin, "audit", "list", "--since", "last week")...)
	t.Logf("done in %v", time.Since(start).Round(time.Millisecond))
}

// waitAuditRecords reads a node's trail until it holds n records (they are
// proposed after the calls were answered), and checks it holds no more.
func waitAuditRecords(t *testing.T, c cli, token string, n int) []*ferryv1.AuditRecord {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := c.ok("audit", "list", "-o", "json", "-token", token)
		var resp ferryv1.ListAuditResponse
		if err := protojson.Unmarshal([]byte(r.stdout), &resp); err != nil {
			t.Fatalf("audit list -o json: %v\n%s", err, r)
		}
		recs := resp.GetRecords()
		switch {
		case len(recs) > n:
			t.Fatalf("%d audit records, want %d:\n%s", len(recs), n, r.stdout)
		case len(recs) == n:
			return recs
		case time.Now().After(deadline):
			t.Fatalf("%d audit records after 30 s, want %d:\n%s", len(recs), n, r.stdout)
		}
	}
}

// checkAuditRecords matches the records, in the order of their calls'
// times, with the script.
func checkAuditRecords(t *testing.T, recs []*ferryv1.AuditRecord, script []auditCall, start time.Time) {
	t.Helper()
	byTime := slices.Clone(recs)
	slices.SortFunc(byTime, func(a, b *ferryv1.AuditRecord) int { return a.GetTime().AsTime().Compare(b.GetTime().AsTime()) })
	var seqs []uint64
	for i, r := range byTime {
		want := script[i]
		seqs = append(seqs, r.GetSeq())
		where := fmt.Sprintf("record of call %d (%s %s)", i+1, want.node, want.method)
		who, prefix := strings.CutSuffix(want.who, "*")
		switch {
		case r.GetMethod() != "/ferry.v1."+want.method:
			t.Errorf("%s: method %s", where, r.GetMethod())
		case r.GetNode() != want.node:
			t.Errorf("%s: node %s", where, r.GetNode())
		case prefix && !strings.HasPrefix(r.GetWho(), who) || !prefix && r.GetWho() != who:
			t.Errorf("%s: who %q, want %q", where, r.GetWho(), want.who)
		case r.GetCode() != want.code:
			t.Errorf("%s: code %s (%s), want %s", where, r.GetCode(), r.GetMessage(), want.code)
		case !strings.Contains(r.GetRequest(), want.request):
			t.Errorf("%s: request %q lacks %q", where, r.GetRequest(), want.request)
		case !strings.Contains(r.GetMessage(), want.message) || (want.code == "OK") != (r.GetMessage() == ""):
			t.Errorf("%s: message %q, want one with %q", where, r.GetMessage(), want.message)
		case !strings.HasPrefix(r.GetAddr(), "127.0.0.1:"):
			t.Errorf("%s: addr %q", where, r.GetAddr())
		case r.GetTime().AsTime().Before(start.Add(-time.Second)) || r.GetTime().AsTime().After(time.Now()):
			t.Errorf("%s: time %v", where, r.GetTime().AsTime())
		case len(r.GetId()) != 16:
			t.Errorf("%s: id %x", where, r.GetId())
		}
		for _, s := range append(want.never, "ferry_") {
			if strings.Contains(r.GetRequest(), s) || strings.Contains(r.GetMessage(), s) {
				t.Errorf("%s shows %q: %v", where, s, r)
			}
		}
	}
	slices.Sort(seqs)
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("seq numbers %v, want 1 to %d", seqs, len(seqs))
		}
	}
}
