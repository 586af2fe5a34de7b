package test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-san/ferry/internal/ndmjob"
)

// TestSecretRotationReachesEveryNode sets the iSCSI CHAP and NDMP
// credentials with `ferry acl secret set` on a running three-node cluster
// whose agents were started with other NDMP credentials (flags) and no CHAP,
// then sets them again: a real initiator (libiscsi's iscsi-inq) and a real
// DMA (Amanda's ndmjob) log in to every node with the values set last, and
// are refused with the flags' and the previous ones, without a restart.
func TestSecretRotationReachesEveryNode(t *testing.T) {
	needNdmjob(t)
	inq, err := exec.LookPath("iscsi-inq")
	if err != nil {
		t.Skip("iscsi-inq is not installed (Debian libiscsi-bin); `make test` installs it when run as root")
	}
	nc := startNDMPCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := nodeNames(3)
	admin := nodeCLI(t, nc.c, mustNode(t, nc.c, "n1"))
	admin.ok("disk", "create", "--name", "chap1", "--size", "8MiB", "--path", filepath.Join(nc.dir, "chap1.img"))

	// inquiry logs in to node's portal as user with secret ("": no CHAP)
	// and asks LUN 1 for its standard INQUIRY data.
	inquiry := func(node, user, secret string) (bool, string) {
		cred := ""
		if user != "" {
			cred = user + "%" + secret + "@"
		}
		url := fmt.Sprintf("iscsi://%s%s/%s/1", cred, mustNode(t, nc.c, node).ISCSIAddr(), iscsiTarget)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, inq, url).CombinedOutput()
		return err == nil && strings.Contains(string(out), "Product"), fmt.Sprintf("iscsi-inq as %q: %v\n%s", user, err, out)
	}
	// ndmpLogin opens an NDMP session with node's server as user and asks
	// its robot for the element status. ndmjob says "Operation complete"
	// after a refused login too ("err connect-auth-md5-failed"): the
	// inventory tells.
	ndmpLogin := func(node, user, password string) (bool, string) {
		agent := nc.addr(node) + "/4m," + user + "," + password
		run := nc.ndmjob(ctx, "login-"+node+"-"+user, "-q", "-R", agent, "-r", ndmpLibrary)
		q := ndmjob.ParseQuery(run.out)
		return q.Robot != nil && len(q.Robot.Elements) > 0, run.tail(15)
	}
	// Both answer as wanted on every node: the new values reach a node
	// when it applies the entry, a moment after the command returns.
	check := func(what string, wantISCSI, wantNDMP [][2]string, refusedISCSI, refusedNDMP [][2]string) {
		t.Helper()
		for _, node := range nodes {
			for _, c := range wantISCSI {
				waitFor(t, ctx, fmt.Sprintf("%s: %s's target accepts %s", what, node, c[0]), func() (bool, string) { return inquiry(node, c[0], c[1]) })
			}
			for _, c := range wantNDMP {
				waitFor(t, ctx, fmt.Sprintf("%s: %s's NDMP server accepts %s", what, node, c[0]), func() (bool, string) { return ndmpLogin(node, c[0], c[1]) })
			}
			for _, c := range refusedISCSI {
				if ok, out := inquiry(node, c[0], c[1]); ok {
					t.Errorf("%s: %s's target let in %q with secret %q:\n%s", what, node, c[0], c[1], out)
				}
			}
			for _, c := range refusedNDMP {
				if ok, out := ndmpLogin(node, c[0], c[1]); ok {
					t.Errorf("%s: %s's NDMP server let in %q with password %q:\n%s", what, node, c[0], c[1], out)
				}
			}
		}
	}

	check("agent flags", [][2]string{{"", ""}}, [][2]string{{ndmpUser, ndmpPassword}}, nil, nil)

	admin.ok("acl", "secret", "set", "iscsi-chap", "user=backup", "secret=chap-secret-one")
	admin.ok("acl", "secret", "set", "ndmp", "user=dma2", "password=ndmp-pass-one")
	check("first secrets",
		[][2]string{{"backup", "chap-secret-one"}}, [][2]string{{"dma2", "ndmp-pass-one"}},
		[][2]string{{"", ""}, {"backup", "wrong-secret-00"}}, [][2]string{{ndmpUser, ndmpPassword}, {"dma2", "wrong"}})

	admin.ok("acl", "secret", "set", "iscsi-chap", "user=backup", "secret=chap-secret-two")
	admin.ok("acl", "secret", "set", "ndmp", "user=dma2", "password=ndmp-pass-two")
	check("rotated secrets",
		[][2]string{{"backup", "chap-secret-two"}}, [][2]string{{"dma2", "ndmp-pass-two"}},
		[][2]string{{"backup", "chap-secret-one"}, {"", ""}}, [][2]string{{"dma2", "ndmp-pass-one"}, {ndmpUser, ndmpPassword}})
}
