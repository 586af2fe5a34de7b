package flagenv

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
)

// PrintDefaults writes every flag of fs, one a line in aligned columns, with
// its default and, where env names one, the environment variable that sets
// it:
//
//	-grpc-port int   port of the gRPC API (default 7101; env FERRY_GRPC_PORT)
//
// env returns "" for flags the environment does not set.
func PrintDefaults(w io.Writer, fs *flag.FlagSet, env func(flagName string) string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		def := f.DefValue
		if def == "" {
			def = "none"
		}
		name := "-" + f.Name
		if typ != "" {
			name += " " + typ
		}
		if key := env(f.Name); key != "" {
			fmt.Fprintf(tw, "  %s\t%s (default %s; env %s)\n", name, usage, def, key)
		} else {
			fmt.Fprintf(tw, "  %s\t%s (default %s)\n", name, usage, def)
		}
	})
	return tw.Flush()
}
