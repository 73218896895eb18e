// Package ship moves encoded events from the spool to their sinks.
//
// Each configured sink gets its own [spool.Reader], so a slow or dead sink
// never stalls another. A sink's runner reads batches (by count, bytes and
// age), sends them with a bounded number of requests in flight, retries what
// is worth retrying with one backoff per batch that honours Retry-After at
// every layer, keeps the events the destination cannot be shown to refuse
// (refused credentials, redirects, which are never followed), splits
// batches the server finds too large or refuses until the events refused
// alone are isolated, and commits the reader's position only once every
// batch before it was delivered or given up on. Whatever is not delivered
// is counted by reason in [Stats].
//
// ship knows nothing about packets: an [Event] is an opaque encoded document
// plus its id, timestamp and kernel log line. The syslog sinks read one
// field of the document, observer.hostname, for the messages' HOSTNAME.
package ship

import "github.com/nflog-agent/nflog-agent/ship/spool"

// Event is [spool.Event], the one event type from the decoder to the sinks,
// under the name ship's sinks use.
type Event = spool.Event
