package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/nflog-agent/nflog-agent/internal/config"
	"github.com/nflog-agent/nflog-agent/internal/nsfile"
	"github.com/nflog-agent/nflog-agent/internal/writable"
	"github.com/nflog-agent/nflog-agent/ship"
	"github.com/nflog-agent/nflog-agent/ship/spool"
)

// agent is what a configuration builds before any socket is bound or any
// goroutine started. `run` and `check` both get it from build, so every
// start error that comes from the configuration is found by check too;
// `run` then binds the NFLOG groups and the metrics listener and starts.
type agent struct {
	cfg      *config.Config
	hostname string
	netns    *os.File      // the namespace to read; nil = the agent's own
	queue    spool.Queue   // nil when checking
	shipper  *ship.Shipper // nil when checking
	// warnings are what starts but deserves a look (a secret others can
	// read, a certificate about to expire), each placed like an error.
	warnings []*config.Error
}

// buildMode says whether build prepares a start or only checks.
type buildMode int

const (
	// checkOnly verifies what run would create or open, and leaves no
	// trace: folders are not created, the spool is neither locked nor
	// repaired, file sinks open no file.
	checkOnly buildMode = iota
	// forRun creates and opens: the spool (locked, torn tail cut), the
	// sinks (files open, secrets and certificates loaded).
	forRun
)

// build reads every secret, certificate, namespace, folder and number the
// configuration names and builds the agent's parts from them. Its errors
// are *config.Error: file, line, key and reason. With forRun, what it
// returns holds open files; close releases them.
func build(cfg *config.Config, mode buildMode, log *slog.Logger, stdout io.Writer) (*agent, error) {
	a := &agent{cfg: cfg, hostname: cfg.Hostname}
	if err := a.buildParts(mode, log, stdout); err != nil {
		a.close()
		return nil, err
	}
	if mode == checkOnly {
		a.close()
	}
	a.warnings = config.Warnings(cfg)
	return a, nil
}

func (a *agent) buildParts(mode buildMode, log *slog.Logger, stdout io.Writer) error {
	cfg := a.cfg
	if a.hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return cfg.ErrorAt("hostname", "this host's name cannot be read (%v): set hostname", err)
		}
		a.hostname = h
	}
	if cfg.NetNS != "" {
		f, err := nsfile.Open(cfg.NetNS)
		if err != nil {
			return cfg.ErrorAt("netns", "%v", err)
		}
		a.netns = f
	}
	if cfg.Metrics.Listen != "" {
		if _, err := net.ResolveTCPAddr("tcp", cfg.Metrics.Listen); err != nil {
			return cfg.ErrorAt("metrics.listen", "%v", err)
		}
	}
	if err := a.buildQueue(mode, log); err != nil {
		return err
	}
	return a.buildSinks(mode, log, stdout)
}

// buildQueue checks the spool directory and, for run, opens it (or the
// in-memory queue).
func (a *agent) buildQueue(mode buildMode, log *slog.Logger) error {
	c := a.cfg.Spool
	if c.Dir != "" {
		if err := writable.SpoolFolder(c.Dir); err != nil {
			return a.cfg.ErrorAt("spool.dir", "%v", err)
		}
	}
	if mode == checkOnly {
		return nil
	}
	if c.Dir == "" {
		a.queue = spool.NewMemory(c.MemoryEvents, int(c.MaxBytes), c.WhenFull)
		return nil
	}
	s, err := spool.Open(c.Dir, spool.Options{MaxBytes: c.MaxBytes, Logger: log})
	if err != nil {
		return a.cfg.ErrorAt("spool.dir", "%v", err)
	}
	a.queue = s
	return nil
}

// buildSinks checks the file sinks' paths and builds every sink: settings,
// secrets, certificates; for run, on the queue, with files open.
func (a *agent) buildSinks(mode buildMode, log *slog.Logger, stdout io.Writer) error {
	sinks := a.cfg.Sinks
	if len(sinks) == 0 {
		sinks = ship.DefaultSinks()
	}
	for i, s := range sinks {
		if s.Type == ship.TypeFile {
			if err := writable.Appendable(s.Path); err != nil {
				return a.cfg.ErrorAt(fmt.Sprintf("sinks[%d].path", i), "%v", err)
			}
		}
	}
	var err error
	if mode == checkOnly {
		err = ship.Check(sinks)
	} else {
		a.shipper, err = ship.New(a.queue, sinks, ship.Options{Logger: log, Stdout: stdout})
	}
	if err != nil {
		return a.sinkError(err)
	}
	return nil
}

// sinkError places an error of ship's: at the sink and setting it names.
func (a *agent) sinkError(err error) error {
	var se *ship.SinkError
	if !errors.As(err, &se) {
		return a.cfg.ErrorAt("sinks", "%s", strings.TrimPrefix(err.Error(), "ship: "))
	}
	return a.cfg.Place(fmt.Sprintf("sinks[%d]", se.Index), se.Err)
}

// close releases what build opened. The shipper was never started: its
// shutdown only closes its files.
func (a *agent) close() {
	if a.shipper != nil {
		a.shipper.Shutdown(context.Background())
		a.shipper = nil
	}
	if a.queue != nil {
		closeQueue(a.queue) // within its deadline, even on a hung disk
		a.queue = nil
	}
	if a.netns != nil {
		a.netns.Close()
		a.netns = nil
	}
}
