package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/nflog-agent/nflog-agent/internal/config"
)

// command describes a subcommand that takes only `--config FILE`.
type command struct {
	name       string // as in `nflog-agent NAME`
	summary    string // what it does, for the usage text
	configHelp string // what the config is used for
	required   bool   // --config must be given
}

// parse reads args and loads the configuration (the defaults without
// --config). When the command must not go on, stop is true and status is
// its exit code: 0 after -h, 2 on a usage error, 1 on a bad config.
func (c command) parse(args []string, stderr io.Writer) (cfg *config.Config, path string, status int, stop bool) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&path, "config", "", c.configHelp)
	fs.Usage = func() {
		opt := "[--config FILE]"
		if c.required {
			opt = "--config FILE"
		}
		fmt.Fprintf(stderr, "usage: nflog-agent %s %s\n\n%s\n\n", c.name, opt, c.summary)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, "", 0, true
		}
		return nil, "", 2, true
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "nflog-agent %s: unexpected argument %q\n", c.name, fs.Arg(0))
		return nil, "", 2, true
	case c.required && path == "":
		fmt.Fprintf(stderr, "nflog-agent %s: --config FILE is required\n", c.name)
		fs.Usage()
		return nil, "", 2, true
	case path == "":
		return config.Default(), "", 0, false
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "nflog-agent %s: %v\n", c.name, err)
		return nil, path, 1, true
	}
	return cfg, path, 0, false
}
