package main

import (
	"slices"
	"testing"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func TestISCSIURLs(t *testing.T) {
	resp := &ferryv1.MembersResponse{AnsweredBy: "n2", Members: []*ferryv1.Member{
		{Node: "n3", IscsiPortal: "10.0.0.3:3260", IscsiTarget: "iqn.2026-11.io.ferry:ferry"},
		{Node: "n1"}, // serves no target
		{Node: "n2", IscsiPortal: "10.0.0.2:3260", IscsiTarget: "iqn.2026-11.io.ferry:ferry"},
	}}
	tests := []struct {
		name string
		all  bool
		want []string
	}{
		{"the answering node", false, []string{"iscsi://10.0.0.2:3260/iqn.2026-11.io.ferry:ferry/4"}},
		{"every node with a portal", true, []string{"iscsi://10.0.0.2:3260/iqn.2026-11.io.ferry:ferry/4", "iscsi://10.0.0.3:3260/iqn.2026-11.io.ferry:ferry/4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := iscsiURLs(resp, 4, tt.all); !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
