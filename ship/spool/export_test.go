package spool

// WithAfterIO returns opts with a hook called after each write, sync,
// rename, truncate and removal, for the tests outside the package.
func WithAfterIO(opts Options, hook func(op string) error) Options {
	opts.afterIO = hook
	return opts
}
