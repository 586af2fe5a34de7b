// Package flagenv fills a flag.FlagSet from three sources so that every
// setting of a Ferry command can come from the command line, the environment
// or a config file, with one precedence rule for all of them:
//
//	command-line flag > environment variable > config file > flag default
//
// Flags and positional arguments may be interleaved ("ferry job get ID -o
// json"); a lone "--" ends the flags and everything after it is positional.
//
// Environment: a flag that is not on the command line is taken from
// <PREFIX>_<NAME>, where NAME is the flag name upper-cased with '-' replaced
// by '_' (flag "grpc-port" with prefix "FERRY" reads FERRY_GRPC_PORT). An
// empty variable counts as unset, because shells and service managers often
// export empty values by accident.
//
// Config file: if the FlagSet defines a flag named "config" and it ends up
// set (by flag or environment), that file is read and fills the flags still
// unset. Its format is one setting per line:
//
//	# comment (whole lines only: '#' inside a value is part of the value)
//	grpc-port = 7101
//	data-dir: /var/lib/ferry
//	name = "value with surrounding spaces "
//
// Keys are flag names ('_' may stand for '-'); "=" or ":" separates key and
// value, whichever comes first; surrounding spaces are trimmed and a value in
// double quotes is unquoted with Go syntax. Blank lines are ignored. A key
// that names no flag, a repeated key, or the key "config" itself is an error
// that names the file, line and key.
package flagenv

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// ConfigFlag is the name of the flag whose value, when set, is the path of a
// config file to read.
const ConfigFlag = "config"

// Parser parses a FlagSet from arguments, environment and config file.
// The zero value reads no environment variables (EnvPrefix is empty).
type Parser struct {
	// EnvPrefix is prepended, with '_', to environment variable names, e.g.
	// "FERRY". Empty disables the environment as a source.
	EnvPrefix string
	// LookupEnv reads one environment variable. Nil means os.LookupEnv; tests
	// pass a map lookup to stay independent of the real environment.
	LookupEnv func(key string) (string, bool)
	// ReadFile reads the config file. Nil means os.ReadFile.
	ReadFile func(name string) ([]byte, error)
}

// Parse is Parser{EnvPrefix: envPrefix}.Parse(fs, args): it reads the real
// environment and file system.
func Parse(fs *flag.FlagSet, args []string, envPrefix string) (positional []string, err error) {
	return Parser{EnvPrefix: envPrefix}.Parse(fs, args)
}

// Parse sets fs's flags from args, then the environment, then the config
// file, and returns the positional arguments in order. fs.Args() is not
// meaningful afterwards: use the returned slice. A "-h" or "-help" argument
// makes fs print its usage and Parse return an error matching flag.ErrHelp.
// Errors from the environment or config file name the variable or file line.
func (p Parser) Parse(fs *flag.FlagSet, args []string) (positional []string, err error) {
	flagArgs, positional := split(fs, args)
	if err := fs.Parse(flagArgs); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if err := p.applyEnv(fs, set); err != nil {
		return nil, err
	}
	if err := p.applyConfig(fs, set); err != nil {
		return nil, err
	}
	return positional, nil
}

// EnvName returns the environment variable that Parse reads for flagName.
func EnvName(prefix, flagName string) string {
	name := strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
	if prefix == "" {
		return name
	}
	return prefix + "_" + name
}

// split separates flag tokens from positional ones, because flag.FlagSet.Parse
// stops at the first positional argument. It decides per token whether the
// next token is the flag's value, which is what FlagSet.Parse would do.
func split(fs *flag.FlagSet, args []string) (flagArgs, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flagArgs, append(positional, args[i+1:]...)
		}
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flagArgs = append(flagArgs, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil || isBool(f) || i+1 >= len(args) {
			// Unknown flags are left for fs.Parse to report.
			continue
		}
		i++
		flagArgs = append(flagArgs, args[i])
	}
	return flagArgs, positional
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (p Parser) applyEnv(fs *flag.FlagSet, set map[string]bool) error {
	if p.EnvPrefix == "" {
		return nil
	}
	lookup := p.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		key := EnvName(p.EnvPrefix, f.Name)
		v, ok := lookup(key)
		if !ok || v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("environment %s=%q: %w", key, v, err))
			return
		}
		set[f.Name] = true
	})
	return errors.Join(errs...)
}

func (p Parser) applyConfig(fs *flag.FlagSet, set map[string]bool) error {
	cf := fs.Lookup(ConfigFlag)
	if cf == nil || cf.Value.String() == "" {
		return nil
	}
	path := cf.Value.String()
	read := p.ReadFile
	if read == nil {
		read = os.ReadFile
	}
	data, err := read(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	entries, err := parseConfig(string(data))
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	for _, e := range entries {
		f := fs.Lookup(e.key)
		if f == nil {
			f = fs.Lookup(strings.ReplaceAll(e.key, "_", "-"))
		}
		if f == nil {
			return fmt.Errorf("config file %s: line %d: unknown key %q", path, e.line, e.key)
		}
		if f.Name == ConfigFlag {
			return fmt.Errorf("config file %s: line %d: key %q cannot be set from a config file", path, e.line, e.key)
		}
		if set[f.Name] {
			continue
		}
		if err := fs.Set(f.Name, e.value); err != nil {
			return fmt.Errorf("config file %s: line %d: %s = %q: %w", path, e.line, e.key, e.value, err)
		}
	}
	return nil
}
