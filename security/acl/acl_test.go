package acl

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"

	ferryv1 "github.com/ferry-san/ferry/proto/ferryv1"
)

// TestEveryClientMethodHasARole fails when an RPC is added to a client
// service without deciding who may call it.
func TestEveryClientMethodHasARole(t *testing.T) {
	for _, sd := range []grpc.ServiceDesc{ferryv1.ClusterService_ServiceDesc, ferryv1.DeviceService_ServiceDesc, ferryv1.JobService_ServiceDesc, ferryv1.AclService_ServiceDesc, ferryv1.AuditService_ServiceDesc} {
		var names []string
		for _, m := range sd.Methods {
			names = append(names, m.MethodName)
		}
		for _, s := range sd.Streams {
			names = append(names, s.StreamName)
		}
		for _, n := range names {
			full := "/" + sd.ServiceName + "/" + n
			if r, ok := MethodRole(full); !ok || r == None {
				t.Errorf("%s has no role in methodRoles", full)
			}
		}
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		have, need Role
		ok         bool
	}{
		{Read, Read, true}, {Read, Operator, false}, {Operator, Read, true}, {Operator, Admin, false},
		{Admin, Admin, true}, {None, Read, false}, {Admin, None, false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.ok {
			t.Errorf("%s.Allows(%s) = %v, want %v", tc.have, tc.need, got, tc.ok)
		}
	}
	for _, s := range []string{"read", "Operator", "ADMIN"} {
		r, err := ParseRole(s)
		if err != nil || !strings.EqualFold(r.String(), s) {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "none", "root", "admin "} {
		if _, err := ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) accepted", s)
		}
	}
}

func TestMutating(t *testing.T) {
	for m, want := range map[string]bool{
		"/ferry.v1.JobService/Submit":      true,
		"/ferry.v1.JobService/List":        false,
		"/ferry.v1.AclService/Bootstrap":   true,
		"/ferry.v1.DeviceService/AddDisk":  true,
		"/ferry.v1.Nope/Unknown":           true,
		"/ferry.v1.ClusterService/Members": false,
		"/ferry.v1.AclService/ListTokens":  false,
		"/ferry.v1.AclService/ListSecrets": false,
		"/ferry.v1.AuditService/List":      false,
		"/ferry.v1.AclService/CreateToken": true,
		"/ferry.v1.AclService/SetSecret":   true,
	} {
		if got := Mutating(m); got != want {
			t.Errorf("Mutating(%s) = %v, want %v", m, got, want)
		}
	}
}

func TestCallerContext(t *testing.T) {
	if _, ok := CallerFrom(context.Background()); ok {
		t.Fatal("a caller in an empty context")
	}
	c := Caller{Kind: Token, Name: "backup-app", Role: Operator, Addr: "127.0.0.1:5"}
	got, ok := CallerFrom(WithCaller(context.Background(), c))
	if !ok || got != c || got.String() != "token:backup-app" {
		t.Fatalf("got %+v %v", got, ok)
	}
}
