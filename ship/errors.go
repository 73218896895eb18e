package ship

import "github.com/nflog-agent/nflog-agent/internal/setting"

// A SinkError is why New or Check could not build one sink. Its text is
// "ship: sink NAME: …"; Index is the sink's place in the list given, so
// that a configuration loader can point at it.
type SinkError struct {
	Index int
	Name  string
	Err   error
}

func (e *SinkError) Error() string { return "ship: sink " + e.Name + ": " + e.Err.Error() }

func (e *SinkError) Unwrap() error { return e.Err }

// A KeyError is a sink setting that cannot be used. Key is its path inside
// the sink's configuration, as written in the configuration file
// (tls.ca_file, batch.max_events).
type KeyError = setting.Error
