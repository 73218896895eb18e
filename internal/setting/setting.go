// Package setting lets a component say which of its settings an error is
// about, by the key the configuration file gives it, so that the
// configuration loader can place the error at that key's file and line
// while the component alone decides what is valid.
package setting

// Error is a setting that cannot be used. Key is its path inside the
// component's section, as written in the configuration file (tls.ca_file
// in a sink, read_buffer_max in a group).
type Error struct {
	Key string
	Err error
}

func (e *Error) Error() string { return e.Key + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }
