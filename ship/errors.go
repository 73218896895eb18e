package ship

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
