// Command composecheck validates Compose files without a Docker engine, using the official
// Compose specification library (github.com/compose-spec/compose-go/v2), the same loader that
// `docker compose` uses.
//
//	composecheck [--json] FILE [OVERRIDE_FILE...]
//
// The files are loaded as `docker compose -f FILE -f OVERRIDE_FILE...` would: JSON-schema
// validation, interpolation of ${VAR} from the process environment (only; no .env file is read),
// normalization and the consistency checks (depends_on targets, volumes, networks, ...) are all on.
// On any problem the library's error goes to stderr and the exit status is 1 (2 for bad usage).
// On success the names of the services of the normalized project are printed, one per line, sorted;
// with --json the whole normalized project is printed as one JSON document instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
)

func main() {
	asJSON := flag.Bool("json", false, "print the normalized project as JSON instead of its service names")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [--json] FILE [OVERRIDE_FILE...]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}

	options, err := cli.NewProjectOptions(flag.Args(),
		cli.WithOsEnv,
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
		// Schema validation is on unless loader.Options.SkipValidation is set; make that explicit.
		cli.WithLoadOptions(func(o *loader.Options) { o.SkipValidation = false }),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}

	if *asJSON {
		// Project.MarshalJSON takes variadic options, so it is not a json.Marshaler: call it directly.
		out, err := project.MarshalJSON()
		if err != nil {
			fail(err)
		}
		fmt.Println(string(out))
		return
	}
	for _, name := range project.ServiceNames() {
		fmt.Println(name)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "composecheck: %v\n", err)
	os.Exit(1)
}
