package main

import (
	"strings"
	"testing"

	"github.com/ferry-san/ferry/internal/flagenv"
)

// TestAgentFlagsValidate checks the agent's own refusals: each row's
// arguments, parsed as ferry agent parses them, give this error (or none,
// or this warning).
func TestAgentFlagsValidate(t *testing.T) {
	tests := []struct {
		args      []string
		wantErr   string
		wantWarn  string
		wantBytes int64
	}{
		{args: nil, wantBytes: 64 << 20},
		{args: []string{"-checkpoint-bytes", "16MiB"}, wantBytes: 16 << 20},
		{args: []string{"-checkpoint-bytes", "100MB"}, wantBytes: 100e6},
		{args: []string{"-checkpoint-bytes", "4096"}, wantBytes: 4096},
		{args: []string{"-checkpoint-bytes", "0"}, wantErr: "-checkpoint-bytes 0: must be positive"},
		{args: []string{"-checkpoint-bytes", "many"}, wantErr: `invalid value "many" for flag -checkpoint-bytes: want a number of bytes`},
		{args: []string{"-lease", "0s"}, wantErr: "-lease 0s: must be positive"},
		{args: []string{"-lease", "-1s"}, wantErr: "-lease -1s: must be positive"},
		{args: []string{"-renew-interval", "0s"}, wantErr: "-renew-interval 0s: must be positive"},
		{args: []string{"-renew-deadline", "-5ms"}, wantErr: "-renew-deadline -5ms: must be positive"},
		{args: []string{"-checkpoint-every", "0s"}, wantErr: "-checkpoint-every 0s: must be positive"},
		{args: []string{"-tick", "0s"}, wantErr: "-tick 0s: must be positive"},
		{args: []string{"-dead-node-timeout", "-1h"}, wantErr: "-dead-node-timeout -1h0m0s: must be positive"},
		{args: []string{"-reconnect-interval", "0s"}, wantErr: "-reconnect-interval 0s: must be positive"},
		{args: []string{"-election-ticks", "0"}, wantErr: "-election-ticks 0: must be positive"},
		{args: []string{"-max-jobs-per-library", "-1"}, wantErr: "-max-jobs-per-library -1: must be 0"},
		{args: []string{"-audit-retention", "30s"}, wantErr: "-audit-retention 30s: must be at least 1m (default 2160h0m0s: 90 days)"},
		{args: []string{"-audit-retention", "720h"}, wantBytes: 64 << 20},
		{args: []string{"-grpc-port", "70000"}, wantErr: "-grpc-port 70000: not a port"},
		// The lease rules of README "Settings that trade takeover time".
		{args: []string{"-renew-deadline", "1.1s"}, wantErr: "-renew-deadline 1.1s: must be at most 2/3 of -lease 1.5s (1s)"},
		{args: []string{"-lease", "600ms"}, wantErr: "-renew-deadline 1s: must be at most 2/3 of -lease 600ms (400ms)"},
		{args: []string{"-lease", "600ms", "-renew-deadline", "400ms", "-renew-interval", "100ms"}, wantBytes: 64 << 20},
		{args: []string{"-renew-interval", "1s"}, wantErr: "-renew-interval 1s: must be shorter than -renew-deadline 1s"},
		{args: []string{"-renew-interval", "400ms"}, wantWarn: "-renew-interval 400ms is more than a quarter of -renew-deadline 1s", wantBytes: 64 << 20},
		// TLS: all three files or none; plaintext only when asked for.
		{args: []string{"-tls-ca", "ca.pem"}, wantErr: "-tls-ca, -tls-cert and -tls-key go together"},
		{args: []string{"-tls-ca", "ca.pem", "-tls-cert", "n1.pem", "-tls-key", "n1-key.pem"}, wantErr: "-insecure and the -tls flags contradict each other"},
		{args: []string{"-insecure=false"}, wantErr: `no TLS: give -tls-ca, -tls-cert and -tls-key (make them with "ferry tls ca create"`},
		{args: []string{"-insecure=false", "-dev"}, wantBytes: 64 << 20},
		{args: []string{"-insecure=false", "-tls-ca", "ca.pem", "-tls-cert", "n1.pem", "-tls-key", "n1-key.pem"}, wantErr: `-gossip-key is needed with TLS (make one with "ferry keygen"`},
		{args: []string{"-insecure=false", "-tls-ca", "ca.pem", "-tls-cert", "n1.pem", "-tls-key", "n1-key.pem", "-gossip-key", "uRkh/erjCg/IMuY3K0Wzjw2sCsadeRDl7BgeVuxmVP8="}, wantBytes: 64 << 20},
		{args: []string{"-gossip-key", "not base64!"}, wantErr: "-gossip-key: not base64"},
		{args: []string{"-gossip-key", "c2hvcnQ="}, wantErr: "-gossip-key: 5 bytes, want 16, 24 or 32"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs, f := agentFlagSet()
			// -insecure first: most rows are about other flags.
			_, err := flagenv.Parser{}.Parse(fs, append([]string{"-insecure"}, tt.args...))
			var warnings []string
			if err == nil {
				warnings, err = f.validate()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			case err != nil:
				return
			}
			if got := strings.Join(warnings, "\n"); !strings.Contains(got, tt.wantWarn) || (tt.wantWarn == "" && got != "") {
				t.Errorf("warnings %q, want %q", got, tt.wantWarn)
			}
			if f.checkpointBytes != tt.wantBytes {
				t.Errorf("checkpoint bytes %d, want %d", f.checkpointBytes, tt.wantBytes)
			}
		})
	}
}

// TestAgentUsage checks that ferry agent -h shows environment variables and
// sizes with units, on standard output, and that a bad flag is one line.
func TestAgentUsage(t *testing.T) {
	r := runFerry(t, nil, "", "agent", "-h")
	for _, want := range []string{
		"-checkpoint-bytes bytes",
		"(default 64MiB; env FERRY_CHECKPOINT_BYTES)",
		"(default 1.5s; env FERRY_LEASE)",
		"(default 7101; env FERRY_GRPC_PORT)",
	} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("ferry agent -h: want %q in\n%v", want, r)
		}
	}
	r = runFerry(t, nil, "", "agent", "-insecure", "-lease", "0s")
	if want := "ferry agent: -lease 0s: must be positive\n"; r.code != exitUsage || r.stderr != want {
		t.Errorf("got %v, want exit 2 and %q", r, want)
	}
	r = runFerry(t, nil, "", "agent", "-insecure", "-lease", "0s", "-tick", "0s")
	if want := "ferry agent: -lease 0s: must be positive\nferry agent: -tick 0s: must be positive\n"; r.code != exitUsage || r.stderr != want {
		t.Errorf("got %v, want exit 2 and %q", r, want)
	}
}
