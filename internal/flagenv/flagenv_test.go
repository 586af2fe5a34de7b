package flagenv

import (
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// settings is the FlagSet every test case parses into.
type settings struct {
	addr    string
	port    int
	stale   bool
	timeout time.Duration
	config  string
}

func newFlagSet(s *settings) *flag.FlagSet {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&s.addr, "addr", "127.0.0.1:7101", "address")
	fs.IntVar(&s.port, "grpc-port", 7101, "port")
	fs.BoolVar(&s.stale, "stale", false, "stale reads")
	fs.DurationVar(&s.timeout, "timeout", 10*time.Second, "timeout")
	fs.StringVar(&s.config, "config", "", "config file")
	return fs
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		files map[string]string
		want  settings
		pos   []string
	}{
		{
			name: "defaults",
			want: settings{addr: "127.0.0.1:7101", port: 7101, timeout: 10 * time.Second},
		},
		{
			name: "flags interleaved with positionals",
			args: []string{"get", "ID", "-stale", "--grpc-port", "9", "-addr=h:1", "tail"},
			want: settings{addr: "h:1", port: 9, stale: true, timeout: 10 * time.Second},
			pos:  []string{"get", "ID", "tail"},
		},
		{
			name: "double dash ends flags",
			args: []string{"a", "--", "-stale", "b"},
			want: settings{addr: "127.0.0.1:7101", port: 7101, timeout: 10 * time.Second},
			pos:  []string{"a", "-stale", "b"},
		},
		{
			name: "lone dash is positional",
			args: []string{"-", "-timeout", "1s"},
			want: settings{addr: "127.0.0.1:7101", port: 7101, timeout: time.Second},
			pos:  []string{"-"},
		},
		{
			name: "flag value that looks like a flag",
			args: []string{"-addr", "-x-", "p"},
			want: settings{addr: "-x-", port: 7101, timeout: 10 * time.Second},
			pos:  []string{"p"},
		},
		{
			name: "environment fills unset flags",
			env:  map[string]string{"FERRY_GRPC_PORT": "8000", "FERRY_STALE": "true", "FERRY_ADDR": ""},
			want: settings{addr: "127.0.0.1:7101", port: 8000, stale: true, timeout: 10 * time.Second},
		},
		{
			name: "flag beats environment",
			args: []string{"-grpc-port", "1"},
			env:  map[string]string{"FERRY_GRPC_PORT": "8000"},
			want: settings{addr: "127.0.0.1:7101", port: 1, timeout: 10 * time.Second},
		},
		{
			name:  "config file from flag",
			args:  []string{"-config", "c.conf"},
			files: map[string]string{"c.conf": "# comment\n\naddr = \"h:2\"\r\ngrpc_port: 3\nstale=true\ntimeout : 5s\n"},
			want:  settings{addr: "h:2", port: 3, stale: true, timeout: 5 * time.Second, config: "c.conf"},
		},
		{
			name:  "precedence flag over env over config over default",
			args:  []string{"-addr", "flag:1"},
			env:   map[string]string{"FERRY_CONFIG": "c.conf", "FERRY_ADDR": "env:1", "FERRY_GRPC_PORT": "2"},
			files: map[string]string{"c.conf": "addr = file:1\ngrpc-port = 3\ntimeout = 4s\n"},
			want:  settings{addr: "flag:1", port: 2, timeout: 4 * time.Second, config: "c.conf"},
		},
		{
			name:  "value containing separators and hash",
			args:  []string{"-config", "c.conf"},
			files: map[string]string{"c.conf": "addr = [::1]:7101 # not a comment\n"},
			want:  settings{addr: "[::1]:7101 # not a comment", port: 7101, timeout: 10 * time.Second, config: "c.conf"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got settings
			fs := newFlagSet(&got)
			pos, err := testParser(tt.env, tt.files).Parse(fs, tt.args)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Errorf("settings = %+v, want %+v", got, tt.want)
			}
			if len(pos) != 0 || len(tt.pos) != 0 {
				if !reflect.DeepEqual(pos, tt.pos) {
					t.Errorf("positional = %q, want %q", pos, tt.pos)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		files   map[string]string
		wantErr string
		is      error
	}{
		{name: "unknown flag", args: []string{"x", "-nope"}, wantErr: "flag provided but not defined: -nope"},
		{name: "missing value", args: []string{"-addr"}, wantErr: "flag needs an argument: -addr"},
		{name: "bad flag value", args: []string{"-grpc-port", "x"}, wantErr: `invalid value "x" for flag -grpc-port`},
		{name: "help", args: []string{"a", "-h"}, is: flag.ErrHelp},
		{name: "bad env value", env: map[string]string{"FERRY_TIMEOUT": "soon"}, wantErr: `environment FERRY_TIMEOUT="soon"`},
		{name: "missing config file", args: []string{"-config", "nope.conf"}, is: fs.ErrNotExist},
		{
			name:    "unknown config key",
			args:    []string{"-config", "c.conf"},
			files:   map[string]string{"c.conf": "addr = a\n\nbogus = 1\n"},
			wantErr: `config file c.conf: line 3: unknown key "bogus"`,
		},
		{
			name:    "config line without separator",
			args:    []string{"-config", "c.conf"},
			files:   map[string]string{"c.conf": "addr\n"},
			wantErr: `config file c.conf: line 1: want "name = value"`,
		},
		{
			name:    "repeated config key",
			args:    []string{"-config", "c.conf"},
			files:   map[string]string{"c.conf": "grpc-port = 1\ngrpc_port = 2\n"},
			wantErr: `line 2: key "grpc_port" repeats line 1`,
		},
		{
			name:    "bad config value",
			args:    []string{"-config", "c.conf"},
			files:   map[string]string{"c.conf": "stale = maybe\n"},
			wantErr: `config file c.conf: line 1: stale = "maybe"`,
		},
		{
			name:    "config names itself",
			args:    []string{"-config", "c.conf"},
			files:   map[string]string{"c.conf": "config = other.conf\n"},
			wantErr: `line 1: key "config" cannot be set from a config file`,
		},
		{
			name:    "bad quoting",
			args:    []string{"-config", "c.conf"},
			files:   map[string]string{"c.conf": "addr = \"open\n"},
			wantErr: `line 1: key "addr": bad quoted value`,
		},
		{
			name:    "missing key",
			args:    []string{"-config", "c.conf"},
			files:   map[string]string{"c.conf": " = 1\n"},
			wantErr: `line 1: missing key`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s settings
			_, err := testParser(tt.env, tt.files).Parse(newFlagSet(&s), tt.args)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
		})
	}
}

// TestParseRealSources covers the package-level Parse, which reads the real
// environment and file system.
func TestParseRealSources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferry.conf")
	if err := os.WriteFile(path, []byte("timeout = 3s\naddr = file:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLAGENVTEST_CONFIG", path)
	t.Setenv("FLAGENVTEST_ADDR", "env:1")
	var s settings
	pos, err := Parse(newFlagSet(&s), []string{"x"}, "FLAGENVTEST")
	if err != nil {
		t.Fatal(err)
	}
	want := settings{addr: "env:1", port: 7101, timeout: 3 * time.Second, config: path}
	if s != want || !reflect.DeepEqual(pos, []string{"x"}) {
		t.Errorf("got %+v %q, want %+v [x]", s, pos, want)
	}
}

func TestEnvName(t *testing.T) {
	tests := []struct{ prefix, flag, want string }{
		{"FERRY", "grpc-port", "FERRY_GRPC_PORT"},
		{"FERRY", "addr", "FERRY_ADDR"},
		{"", "data-dir", "DATA_DIR"},
	}
	for _, tt := range tests {
		if got := EnvName(tt.prefix, tt.flag); got != tt.want {
			t.Errorf("EnvName(%q, %q) = %q, want %q", tt.prefix, tt.flag, got, tt.want)
		}
	}
}

// testParser reads environment and files from maps, with prefix FERRY.
func testParser(env, files map[string]string) Parser {
	return Parser{
		EnvPrefix: "FERRY",
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		ReadFile: func(name string) ([]byte, error) {
			data, ok := files[name]
			if !ok {
				return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
			}
			return []byte(data), nil
		},
	}
}
