package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ferry-san/ferry/cluster/fsm"
	"github.com/ferry-san/ferry/proto/ferryv1"
	"github.com/ferry-san/ferry/rpc/grpcapi"
)

func auditListCommand() *clientCommand {
	return &clientCommand{
		name:    "audit list",
		summary: "list the audit trail: who called what, from where, and the outcome, for every mutating call",
		details: "Every call that changes the cluster, refused or not, is recorded once it is answered: its time\n" +
			"(the serving node's clock), who (token:NAME, certificate:IDENTITY or anonymous), the address it came\n" +
			"from, the node that served it, the method, its request with secrets redacted, and the outcome.\n" +
			"Records are kept for the agents' -audit-retention (default 90 days), at most " + fmt.Sprint(fsm.MaxAuditRecords) + ". Admins only.",
		flags: func(fs *flag.FlagSet) action {
			since := fs.String("since", "", "only calls since this `time`: a duration back from now (24h, 30m) or an RFC 3339 time (2026-12-01T00:00:00Z)")
			who := fs.String("who", "", "only calls of this caller: its `name` (backup-app) or as the trail shows it (token:backup-app)")
			limit := fs.Uint("limit", 1000, fmt.Sprintf("at most this many records, the newest (at most %d)", grpcapi.MaxAuditList))
			stale := fs.Bool("stale", false, "answer from the node's applied state, skipping the leader round trip")
			return func(ctx context.Context, c *client, _ []string) error {
				req := &ferryv1.ListAuditRequest{Who: *who, Stale: *stale}
				if *since != "" {
					t, err := parseSince(*since, time.Now())
					if err != nil {
						return usageError{err.Error()}
					}
					req.Since = timestamppb.New(t)
				}
				if *limit == 0 || *limit > grpcapi.MaxAuditList {
					return usageError{fmt.Sprintf("-limit %d: want 1 to %d", *limit, grpcapi.MaxAuditList)}
				}
				req.Limit = uint32(*limit)
				ctx, cancel := c.rpcContext(ctx)
				defer cancel()
				resp, err := ferryv1.NewAuditServiceClient(c.conn).List(ctx, req)
				if err != nil {
					return err
				}
				if n := resp.GetOmitted(); n > 0 {
					fmt.Fprintf(c.stderr, "ferry: %d older matching records not shown (narrow -since or -who, or raise -limit)\n", n)
				}
				if n := resp.GetCapped(); n > 0 {
					fmt.Fprintf(c.stderr, "ferry: the trail outgrew its cap of %d records: its %d oldest were dropped\n", fsm.MaxAuditRecords, n)
				}
				if c.format == "json" {
					return writeJSON(c.stdout, resp, "  ")
				}
				tw := newTable(c.stdout)
				row(tw, "SEQ", "TIME", "WHO", "ADDR", "NODE", "METHOD", "REQUEST", "OUTCOME")
				for _, r := range resp.GetRecords() {
					row(tw, fmt.Sprint(r.GetSeq()), timeText(r.GetTime()), orDash(r.GetWho()), orDash(r.GetAddr()), orDash(r.GetNode()),
						strings.TrimPrefix(r.GetMethod(), "/ferry.v1."), orDash(r.GetRequest()), outcomeText(r))
				}
				return tw.Flush()
			}
		},
	}
}

// parseSince reads -since: a duration back from now, or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("-since %s: a duration back from now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("-since %q: want a duration back from now (24h, 30m) or an RFC 3339 time (2026-12-01T00:00:00Z)", s)
}

// outcomeText is a record's code, with its message when the call failed.
func outcomeText(r *ferryv1.AuditRecord) string {
	if r.GetMessage() == "" {
		return r.GetCode()
	}
	return r.GetCode() + ": " + r.GetMessage()
}
