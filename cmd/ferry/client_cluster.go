package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func membersCommand() *clientCommand {
	return &clientCommand{
		name:    "members",
		summary: "list the cluster's members as gossip and Raft see them",
		details: "Any node answers from its own view; a node that just joined may not be known everywhere yet.",
		flags: func(*flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := c.cluster.Members(ctx, &ferryv1.MembersRequest{})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				return printMembers(c, resp)
			}
		},
	}
}

func printMembers(c *client, resp *ferryv1.MembersResponse) error {
	members := slices.Clone(resp.GetMembers())
	slices.SortFunc(members, func(a, b *ferryv1.Member) int { return cmp.Compare(a.GetNode(), b.GetNode()) })
	tw := newTable(c.stdout)
	row(tw, "NODE", "SITE", "GOSSIP", "RAFT", "TRANSPORT", "GRPC", "HTTP", "GOSSIP-ADDR")
	var plaintext []string
	for _, m := range members {
		if m.GetTransport() == ferryv1.Transport_TRANSPORT_PLAINTEXT {
			plaintext = append(plaintext, m.GetNode())
		}
		row(tw, m.GetNode(), orDash(m.GetSite()), gossipStateText(m.GetGossipState()), raftRoleText(m.GetRaftRole()),
			transportText(m.GetTransport()), orDash(m.GetGrpcAddr()), orDash(m.GetHttpAddr()), orDash(m.GetGossipAddr()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(plaintext) > 0 {
		// Said below the table too, where it cannot be missed.
		_, err := fmt.Fprintf(c.stdout, "\nPLAINTEXT (no TLS: -insecure or -dev): %s; anyone who reaches such a node can register devices, copy over them and join the cluster\n",
			strings.Join(plaintext, ", "))
		return err
	}
	return nil
}

// transportText is a member's transport for the table: mTLS, PLAINTEXT
// (in capitals, as the agent logs it), or "-" when not known.
func transportText(t ferryv1.Transport) string {
	switch t {
	case ferryv1.Transport_TRANSPORT_MTLS:
		return "mTLS"
	case ferryv1.Transport_TRANSPORT_PLAINTEXT:
		return "PLAINTEXT"
	}
	return "-"
}

func membersRemoveCommand() *clientCommand {
	return &clientCommand{
		name:    "members remove",
		args:    "NODE",
		nargs:   1,
		summary: "remove a node from the Raft configuration",
		details: "The node is removed at once, alive or not. A removed node cannot rejoin with the same data\n" +
			"directory: wipe it first. Prints the voters and learners that remain.",
		flags: func(*flag.FlagSet) action {
			return func(ctx context.Context, c *client, args []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := c.cluster.RemoveMember(ctx, &ferryv1.RemoveMemberRequest{Node: args[0]})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				tw := newTable(c.stdout)
				row(tw, "voters:", listText(resp.GetVoters()))
				row(tw, "learners:", listText(resp.GetLearners()))
				return tw.Flush()
			}
		},
	}
}

func raftStatusCommand() *clientCommand {
	return &clientCommand{
		name:    "raft status",
		summary: "show the answering node's Raft state",
		flags: func(*flag.FlagSet) action {
			return func(ctx context.Context, c *client, _ []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				s, err := c.cluster.RaftStatus(ctx, &ferryv1.RaftStatusRequest{})
				if err != nil {
					return err
				}
				if c.format == "json" {
					return writeJSON(c.stdout, s, "  ")
				}
				return printRaftStatus(c, s)
			}
		},
	}
}

func printRaftStatus(c *client, s *ferryv1.RaftStatusResponse) error {
	leader := "none"
	if s.GetLeaderId() != 0 || s.GetLeader() != "" {
		leader = fmt.Sprintf("%s (raft id %d)", orDash(s.GetLeader()), s.GetLeaderId())
	}
	tw := newTable(c.stdout)
	row(tw, "node:", fmt.Sprintf("%s (raft id %d)", orDash(s.GetNode()), s.GetRaftId()))
	row(tw, "cluster id:", orDash(s.GetClusterId()))
	row(tw, "role:", raftRoleText(s.GetRole()))
	row(tw, "term:", fmt.Sprint(s.GetTerm()))
	row(tw, "leader:", leader)
	row(tw, "commit index:", fmt.Sprint(s.GetCommitIndex()))
	row(tw, "applied index:", fmt.Sprint(s.GetAppliedIndex()))
	row(tw, "voters:", listText(s.GetVoters()))
	row(tw, "learners:", listText(s.GetLearners()))
	row(tw, "snapshot index:", fmt.Sprint(s.GetSnapshotIndex()))
	row(tw, "first index:", fmt.Sprint(s.GetFirstIndex()))
	row(tw, "last index:", fmt.Sprint(s.GetLastIndex()))
	return tw.Flush()
}
