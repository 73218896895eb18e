package ship

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nflog-agent/nflog-agent/internal/setting"
)

// Sink types.
const (
	TypeStdout        = "stdout"
	TypeFile          = "file"
	TypeHTTP          = "http"
	TypeElasticsearch = "elasticsearch"
	TypeSekoia        = "sekoia"
	TypeSyslog        = "syslog"
)

// SinkConfig configures one sink. Fields that a type does not use must be
// left empty. The yaml tags name the configuration file's keys.
type SinkConfig struct {
	Type string `yaml:"type"`
	// Name identifies the sink in metrics, logs and the spool's cursor
	// files; default: the type. Names must be unique.
	Name string `yaml:"name"`

	// file
	Path string `yaml:"path"`

	// http, elasticsearch, sekoia
	URL         string            `yaml:"url"`
	Compression string            `yaml:"compression"` // gzip (default) or none
	Timeout     time.Duration     `yaml:"timeout"`     // per request; default 30s
	Concurrency int               `yaml:"concurrency"` // batches in flight; default 1
	Headers     map[string]string `yaml:"headers"`     // http: extra headers, treated as secrets
	Format      string            `yaml:"format"`      // http: ndjson (default) or json_array; syslog: kernel (default) or json
	TLS         TLSConfig         `yaml:"tls"`
	Retry       RetryConfig       `yaml:"retry"`

	// elasticsearch
	DataStream   string `yaml:"data_stream"` // default logs-netfilter.log-default
	APIKeyFile   string `yaml:"api_key_file"`
	APIKeyEnv    string `yaml:"api_key_env"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`

	// sekoia
	Region        string `yaml:"region"` // fra1, fra2, mco1, uae1, usa1, sgp1 (or url)
	IntakeKeyFile string `yaml:"intake_key_file"`
	IntakeKeyEnv  string `yaml:"intake_key_env"`

	// syslog; sekoia takes Address and Transport (relp, syslog or https)
	Address   string `yaml:"address"`   // HOST:PORT
	Transport string `yaml:"transport"` // syslog: tcp, tls, relp or relp+tls
	Framing   string `yaml:"framing"`   // octet-counted (default) or lf
	Facility  string `yaml:"facility"`  // default kern
	Severity  string `yaml:"severity"`  // default warning
	AppName   string `yaml:"app_name"`  // default nflog-agent
	ProcID    string `yaml:"procid"`    // default none ("-")
	MsgID     string `yaml:"msgid"`     // default none ("-")
	// StructuredData is the one SD element of every message; none when
	// its ID is empty.
	StructuredData StructuredData `yaml:"structured_data"`

	Batch BatchConfig `yaml:"batch"`
}

// BatchConfig says when a batch is sent: at MaxEvents events, at MaxBytes
// bytes (uncompressed), or MaxAge after its first event, whichever first.
type BatchConfig struct {
	MaxEvents int           `yaml:"max_events"` // default 1000
	MaxBytes  int           `yaml:"max_bytes"`  // default 5 MiB
	MaxAge    time.Duration `yaml:"max_age"`    // default 1s
}

// RetryConfig is the retry policy of a batch, whichever layer retries it:
// go-retryablehttp's Attempts tries of one request, or the sink's own loop,
// which sends the batch again once they are used up, for as long as it
// takes (nothing is dropped for being transient). Before each new try it
// waits what the last answer asked for with Retry-After (seconds or an
// HTTP date), up to MaxRetryAfter and at least InitialBackoff; without
// one, MaxBackoff while the sink is blocked (credentials refused,
// redirect); else a jittered backoff (half to all of InitialBackoff·2ⁿ)
// that doubles with each failed try of the batch, across its requests, up
// to MaxBackoff.
type RetryConfig struct {
	InitialBackoff time.Duration `yaml:"initial_backoff"` // default 500ms
	MaxBackoff     time.Duration `yaml:"max_backoff"`     // default 30s
	MaxRetryAfter  time.Duration `yaml:"max_retry_after"` // default 5m
	Attempts       int           `yaml:"attempts"`        // per request; default 5
}

// StructuredData is one structured-data element, [ID NAME="VALUE" …], its
// parameters in the order of their names.
type StructuredData struct {
	ID     string            `yaml:"id"`
	Params map[string]string `yaml:"params"`
}

// Transports of syslog and sekoia sinks.
const (
	TransportTCP     = "tcp"
	TransportTLS     = "tls"
	TransportRELP    = "relp"
	TransportRELPTLS = "relp+tls"
	TransportSyslog  = "syslog" // sekoia: octet-counted syslog over TLS
	TransportHTTPS   = "https"  // sekoia: the HTTP intake
)

// dataStreamDefault is the Elasticsearch data stream used when none is set.
const dataStreamDefault = "logs-netfilter.log-default"

// ValidateSinks reports the first invalid sink configuration, or two sinks
// with the same name, without building anything: what New would reject
// before reading secrets and certificates.
func ValidateSinks(sinks []SinkConfig) error {
	names := map[string]bool{}
	for _, raw := range sinks {
		c, err := raw.withDefaults()
		if err != nil {
			return err
		}
		if names[c.Name] {
			return fmt.Errorf("ship: two sinks are named %q: give each a name", c.Name)
		}
		names[c.Name] = true
	}
	return nil
}

// withDefaults returns c with its defaults filled in, or an error naming the
// first invalid field.
func (c SinkConfig) withDefaults() (SinkConfig, error) {
	if c.Name == "" {
		c.Name = c.Type
	}
	fail := func(format string, a ...any) (SinkConfig, error) {
		return c, fmt.Errorf("ship: sink %s: %s", c.Name, fmt.Sprintf(format, a...))
	}
	failKey := func(key string, err error) (SinkConfig, error) {
		return c, fmt.Errorf("ship: sink %s: %w", c.Name, &setting.Error{Key: key, Err: err})
	}
	b := &c.Batch
	b.MaxEvents = orDefault(b.MaxEvents, 1000)
	b.MaxBytes = orDefault(b.MaxBytes, 5<<20)
	if c.Type == TypeStdout || c.Type == TypeFile {
		// A local write is cheap: keep a tail -f or a pipe close to live.
		b.MaxAge = orDefault(b.MaxAge, 100*time.Millisecond)
	}
	b.MaxAge = orDefault(b.MaxAge, time.Second)
	r := &c.Retry
	r.InitialBackoff = orDefault(r.InitialBackoff, 500*time.Millisecond)
	r.MaxBackoff = max(orDefault(r.MaxBackoff, 30*time.Second), r.InitialBackoff)
	r.MaxRetryAfter = orDefault(r.MaxRetryAfter, 5*time.Minute)
	r.Attempts = orDefault(r.Attempts, 5)
	c.Timeout = orDefault(c.Timeout, 30*time.Second)
	// One batch in flight keeps what a crash can resend to at most one
	// batch per sink, the delivery guarantee the docs promise; more trades
	// that for throughput.
	c.Concurrency = orDefault(c.Concurrency, 1)
	if err := c.checkBounds(); err != nil {
		return c, fmt.Errorf("ship: sink %s: %w", c.Name, err)
	}
	if c.Type == TypeSekoia && c.Transport == "" {
		c.Transport = TransportRELP
		if c.URL != "" {
			c.Transport = TransportHTTPS // a url names the HTTP intake
		}
	}
	stream := c.Type == TypeSyslog || c.Type == TypeSekoia && c.Transport != TransportHTTPS
	if stream && c.Compression != "" {
		return failKey("compression", errors.New("applies to HTTP sinks only"))
	}
	if stream && c.Concurrency > 1 {
		return failKey("concurrency", fmt.Errorf("%d: a syslog or RELP sink keeps one connection, in order: leave it at 1", c.Concurrency))
	}
	switch c.Compression {
	case "":
		c.Compression = "gzip"
	case "gzip", "none":
	default:
		return fail("compression %q: want gzip or none", c.Compression)
	}
	remote := c.Type == TypeHTTP || c.Type == TypeElasticsearch || c.Type == TypeSekoia || c.Type == TypeSyslog
	if !remote && (c.URL != "" || c.TLS != (TLSConfig{}) || len(c.Headers) > 0) {
		return fail("url, tls and headers apply to http, elasticsearch, sekoia and syslog sinks only")
	}
	if c.Type == TypeSyslog && c.URL != "" {
		return failKey("url", errors.New("a syslog sink takes address: HOST:PORT"))
	}
	if c.Type != TypeFile && c.Path != "" {
		return fail("path applies to file sinks only")
	}
	if c.Type != TypeHTTP && len(c.Headers) > 0 {
		return fail("headers apply to http sinks only")
	}
	if c.Type != TypeHTTP && c.Type != TypeSyslog && c.Format != "" {
		return fail("format applies to http and syslog sinks only")
	}
	if c.Type != TypeSyslog && (c.Framing != "" || c.Facility != "" || c.Severity != "" || c.AppName != "" ||
		c.ProcID != "" || c.MsgID != "" || c.StructuredData.ID != "" || len(c.StructuredData.Params) > 0) {
		return fail("framing, facility, severity, app_name, procid, msgid and structured_data apply to syslog sinks only")
	}
	if c.Type != TypeSyslog && c.Type != TypeSekoia && (c.Address != "" || c.Transport != "") {
		return fail("address and transport apply to syslog and sekoia sinks only")
	}
	if c.Type != TypeElasticsearch && (c.DataStream != "" || c.APIKeyFile != "" || c.APIKeyEnv != "" ||
		c.Username != "" || c.PasswordFile != "" || c.PasswordEnv != "") {
		return fail("data_stream, api_key_* , username and password_* apply to elasticsearch sinks only")
	}
	if c.Type != TypeSekoia && (c.Region != "" || c.IntakeKeyFile != "" || c.IntakeKeyEnv != "") {
		return fail("region and intake_key_* apply to sekoia sinks only")
	}
	switch c.Type {
	case TypeStdout:
	case TypeFile:
		if c.Path == "" {
			return fail("path is required")
		}
	case TypeHTTP:
		if c.URL == "" {
			return fail("url is required")
		}
		switch c.Format {
		case "":
			c.Format = "ndjson"
		case "ndjson", "json_array":
		default:
			return fail("format %q: want ndjson or json_array", c.Format)
		}
	case TypeElasticsearch:
		if c.URL == "" {
			return fail("url is required")
		}
		if c.DataStream == "" {
			c.DataStream = dataStreamDefault
		}
	case TypeSekoia:
		if (c.IntakeKeyFile == "") == (c.IntakeKeyEnv == "") {
			return fail("set exactly one of intake_key_file and intake_key_env")
		}
		if c.Region != "" && SekoiaURL(c.Region) == "" {
			return failKey("region", fmt.Errorf("%q: want fra1, fra2, mco1, uae1, usa1 or sgp1", c.Region))
		}
		switch c.Transport {
		case TransportHTTPS:
			if (c.Region == "") == (c.URL == "") {
				return fail("set exactly one of region and url")
			}
			if c.Address != "" {
				return failKey("address", errors.New("applies to the relp and syslog transports: the HTTP intake takes url"))
			}
		case TransportRELP, TransportSyslog:
			if c.URL != "" {
				return failKey("url", fmt.Errorf("applies to the https transport: the %s transport takes address: HOST:PORT", c.Transport))
			}
			if c.Region == "" && c.Address == "" {
				return fail("set region or address")
			}
			if err := checkAddress(c.Address); err != nil {
				return failKey("address", err)
			}
		default:
			return failKey("transport", fmt.Errorf("%q: want relp, syslog or https", c.Transport))
		}
	case TypeSyslog:
		if c.Address == "" {
			return fail("address is required (HOST:PORT)")
		}
		if err := checkAddress(c.Address); err != nil {
			return failKey("address", err)
		}
		switch c.Transport {
		case "":
			c.Transport = TransportTLS
		case TransportTCP, TransportTLS, TransportRELP, TransportRELPTLS:
		default:
			return failKey("transport", fmt.Errorf("%q: want tcp, tls, relp or relp+tls", c.Transport))
		}
		if !secureTransport(c.Transport) && c.TLS != (TLSConfig{}) {
			return failKey("tls", errors.New("applies to the tls and relp+tls transports only"))
		}
		switch c.Framing {
		case "":
			c.Framing = FramingOctetCounted
		case FramingOctetCounted, FramingLF:
			if c.Framing == FramingLF && (c.Transport == TransportRELP || c.Transport == TransportRELPTLS) {
				return failKey("framing", errors.New("applies to the tcp and tls transports: RELP frames each message itself"))
			}
		default:
			return failKey("framing", fmt.Errorf("%q: want octet-counted or lf", c.Framing))
		}
		switch c.Format {
		case "":
			c.Format = FormatKernel
		case FormatKernel, FormatJSON:
		default:
			return failKey("format", fmt.Errorf("%q: want kernel or json", c.Format))
		}
		if c.AppName == "" {
			c.AppName = "nflog-agent"
		}
		if c.Facility == "" {
			c.Facility = "kern"
		}
		if c.Severity == "" {
			c.Severity = "warning"
		}
		if _, err := syslogHeader(&c); err != nil {
			return c, fmt.Errorf("ship: sink %s: %w", c.Name, err)
		}
	default:
		return fail("unknown type %q: want stdout, file, http, elasticsearch, sekoia or syslog", c.Type)
	}
	return c, nil
}

func orDefault[T int | time.Duration](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

// readSecret returns the secret from file or from the environment variable
// env (exactly one is set by the caller), trimmed of surrounding whitespace.
// Errors are KeyErrors on the setting named after what ("intake key" →
// intake_key_file or intake_key_env) and name where the secret was looked
// for, never its value.
func readSecret(what, file, env string) (string, error) {
	key := strings.ReplaceAll(what, " ", "_")
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", &setting.Error{Key: key + "_file", Err: err}
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", &setting.Error{Key: key + "_file", Err: fmt.Errorf("%s is empty", file)}
		}
		return s, nil
	}
	s := strings.TrimSpace(os.Getenv(env))
	if s == "" {
		return "", &setting.Error{Key: key + "_env", Err: fmt.Errorf("environment variable %s is not set", env)}
	}
	return s, nil
}
