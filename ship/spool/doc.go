// Package spool keeps encoded events between the decoder and the sinks.
//
// Two implementations share the [Queue] interface:
//
//   - [Spool] stores events in segment files on disk. Every record carries a
//     CRC32C checksum, so a torn tail left by a crash is found, cut off and
//     counted when the spool is opened, never fatal. Each sink reads through
//     its own [Reader] at its own pace; its position (cursor) is saved in
//     place, in two slots so that a torn save leaves the previous one, and
//     survives restarts. When the size cap is reached the oldest segments
//     are deleted and what each sink had not read yet is counted as dropped
//     for that sink. A full disk fails the Append with an error that matches
//     [ErrDiskFull], counted; positions are still saved (an overwrite needs
//     no space), what every sink delivered is freed, and appends work again
//     as soon as there is room. [Stats] says what is degraded meanwhile.
//   - [Memory] is a bounded in-memory queue with the same accounting, for
//     agents configured without a spool directory.
//
// The package knows nothing about packets: an [Event] is an opaque encoded
// document plus the few attributes a sink needs.
package spool
