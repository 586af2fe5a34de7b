package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"slices"

	"github.com/ferry-san/ferry/proto/ferryv1"
)

func iscsiURLCommand() *clientCommand {
	return &clientCommand{
		name:    "iscsi url",
		args:    "DISK",
		nargs:   1,
		summary: "print the libiscsi URL of a disk LUN (iscsi://HOST:PORT/IQN/LUN)",
		details: "The URL names the answering node's portal; -all prints one per node that serves the target, " +
			"as a multipath initiator would use them. Every node presents the same LUNs.",
		flags: func(fs *flag.FlagSet) action {
			all := fs.Bool("all", false, "one URL per node's portal")
			return func(ctx context.Context, c *client, args []string) error {
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				disks, err := ferryv1.NewDeviceServiceClient(c.conn).ListDisks(ctx, &ferryv1.ListDisksRequest{})
				if err != nil {
					return err
				}
				i := slices.IndexFunc(disks.GetDisks(), func(d *ferryv1.Disk) bool { return d.GetName() == args[0] })
				if i < 0 {
					return fmt.Errorf("no disk named %q", args[0])
				}
				d := disks.GetDisks()[i]
				members, err := c.cluster.Members(ctx, &ferryv1.MembersRequest{})
				if err != nil {
					return err
				}
				urls := iscsiURLs(members, d.GetLun(), *all)
				if len(urls) == 0 {
					return fmt.Errorf("no node serves an iSCSI target (see -iscsi-port in \"ferry agent -h\")")
				}
				for _, u := range urls {
					fmt.Fprintln(c.stdout, u)
				}
				return nil
			}
		},
	}
}

// iscsiURLs are the disk's URLs through the answering node's portal, or
// through every node's.
func iscsiURLs(resp *ferryv1.MembersResponse, lun uint32, all bool) []string {
	members := slices.Clone(resp.GetMembers())
	slices.SortFunc(members, func(a, b *ferryv1.Member) int { return cmp.Compare(a.GetNode(), b.GetNode()) })
	var out []string
	for _, m := range members {
		if m.GetIscsiPortal() == "" || (!all && m.GetNode() != resp.GetAnsweredBy()) {
			continue
		}
		out = append(out, fmt.Sprintf("iscsi://%s/%s/%d", m.GetIscsiPortal(), m.GetIscsiTarget(), lun))
	}
	return out
}
