package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nflog-agent/nflog-agent/internal/setting"
)

// parser walks the YAML node tree so that every error can name the file,
// the line and the full key path (groups[1].overflow), which plain
// decoding into structs cannot do for bad values. Every section is read
// the same way: a table of its keys, each with a typed reader. It notes
// the line of every key it reads in cfg.keyLines.
type parser struct {
	cfg *Config
}

func (p *parser) errorf(n *yaml.Node, key, format string, args ...any) error {
	return &Error{File: p.cfg.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Place puts an error of one of the agent's parts about the section at
// path at the setting it names (a *setting.Error), or at path itself.
// ship's package prefix is dropped: the key says where it comes from.
func (c *Config) Place(path string, err error) *Error {
	var se *setting.Error
	if errors.As(err, &se) {
		return c.ErrorAt(path+"."+se.Key, "%v", se.Err)
	}
	return c.ErrorAt(path, "%s", strings.TrimPrefix(err.Error(), "ship: "))
}

// A reader reads the value v of the key at path into its destination.
type reader func(v *yaml.Node, path string) error

// field is one key of a section and the reader of its value.
type field struct {
	key  string
	read reader
}

// section reads a mapping against its fields.
func (p *parser) section(fields ...field) reader {
	return func(v *yaml.Node, path string) error { return p.fields(v, path, fields) }
}

// fields reads the mapping n, the section at path ("" at the top level):
// each key with its field's reader. Unknown and duplicate keys are errors;
// a section with nothing under it keeps its defaults.
func (p *parser) fields(n *yaml.Node, path string, fields []field) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return p.errorf(n, path, "want a mapping, got %s", kindName(n))
	}
	prefix := ""
	if path != "" {
		prefix = path + "."
	}
	return p.mapping(n, prefix, func(key string, k, v *yaml.Node) error {
		for _, f := range fields {
			if f.key == key {
				return f.read(v, prefix+key)
			}
		}
		return p.errorf(k, prefix+key, "unknown key (want %s)", keyList(fields))
	})
}

// keyList names the keys of fields for an error: "a", "a or b", or
// "one of a, b, c".
func keyList(fields []field) string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	switch len(keys) {
	case 1:
		return keys[0]
	case 2:
		return keys[0] + " or " + keys[1]
	}
	return "one of " + strings.Join(keys, ", ")
}

// mapping calls fn for each key of a mapping node, rejecting duplicate keys
// and non-scalar keys, and notes each key's line.
func (p *parser) mapping(n *yaml.Node, prefix string, fn func(key string, k, v *yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return p.errorf(k, prefix, "keys must be plain strings")
		}
		if seen[k.Value] {
			return p.errorf(k, prefix+k.Value, "duplicate key")
		}
		seen[k.Value] = true
		p.cfg.keyLines[prefix+k.Value] = k.Line
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

// list reads a sequence of at least one item, noting each item's line
// under path[i]; what names the items for errors.
func (p *parser) list(v *yaml.Node, path, what, empty string, item func(n *yaml.Node, path string) error) error {
	if v.Kind != yaml.SequenceNode {
		return p.errorf(v, path, "want a list of %s, got %s", what, kindName(v))
	}
	if len(v.Content) == 0 {
		return p.errorf(v, path, "empty: %s", empty)
	}
	for i, n := range v.Content {
		at := fmt.Sprintf("%s[%d]", path, i)
		p.cfg.keyLines[at] = n.Line
		if err := item(n, at); err != nil {
			return err
		}
	}
	return nil
}

// textMap reads a mapping of any keys to text, such as HTTP headers, each
// value vetted by check when it is set; what names the mapping for errors.
func (p *parser) textMap(dst *map[string]string, what string, check func(string) error) reader {
	return func(v *yaml.Node, path string) error {
		if isNull(v) {
			return nil
		}
		if v.Kind != yaml.MappingNode {
			return p.errorf(v, path, "want %s, got %s", what, kindName(v))
		}
		m := map[string]string{}
		err := p.mapping(v, path+".", func(key string, _, val *yaml.Node) error {
			full := fmt.Sprintf("%s[%q]", path, key)
			var s string
			if err := text(p, &s)(val, full); err != nil {
				return err
			}
			if check != nil {
				if err := check(s); err != nil {
					return p.errorf(val, full, "%v", err)
				}
			}
			m[key] = s
			return nil
		})
		*dst = m
		return err
	}
}

// scalar reads a single value into *dst with parse, whose error is placed
// at the value; what names the kind of value wanted when a list or a
// mapping is given. A key with no value leaves a number, a duration or a
// switch at its default, and makes a text empty.
func scalar[T any](p *parser, dst *T, what string, parse func(string) (T, error)) reader {
	return func(v *yaml.Node, path string) error {
		if v.Kind != yaml.ScalarNode {
			return p.errorf(v, path, "want %s, got %s", what, kindName(v))
		}
		if _, isText := any(*dst).(string); isNull(v) && !isText {
			return nil
		}
		x, err := parse(v.Value)
		if err != nil {
			return p.errorf(v, path, "%v", err)
		}
		*dst = x
		return nil
	}
}

// want is the error of a value that is not what a key takes.
func want(value, format string, args ...any) error {
	return errors.New(strconv.Quote(value) + ": want " + fmt.Sprintf(format, args...))
}

func text(p *parser, dst *string) reader {
	return scalar(p, dst, "a string", func(s string) (string, error) { return s, nil })
}

func boolean(p *parser, dst *bool) reader {
	return scalar(p, dst, "true or false", func(s string) (bool, error) {
		switch s {
		case "true", "True", "TRUE":
			return true, nil
		case "false", "False", "FALSE":
			return false, nil
		}
		return false, want(s, "true or false")
	})
}

// integer reads any integer: the part it configures bounds it.
func integer(p *parser, dst *int) reader {
	return scalar(p, dst, "an integer", func(s string) (int, error) {
		n, err := strconv.ParseInt(s, 0, strconv.IntSize)
		if err != nil {
			return 0, want(s, "an integer")
		}
		return int(n), nil
	})
}

// integerIn reads an integer from lo to hi.
func integerIn[T ~int | ~uint16 | ~uint32](p *parser, dst *T, lo, hi uint64) reader {
	return scalar(p, dst, "a number", func(s string) (T, error) {
		u, err := strconv.ParseUint(s, 0, 64)
		if err != nil || u < lo || u > hi {
			return 0, want(s, "an integer from %d to %d", lo, hi)
		}
		return T(u), nil
	})
}

// duration reads a duration that may be 0, which leaves the part's default.
func duration(p *parser, dst *time.Duration) reader {
	return scalar(p, dst, "a duration", func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, want(s, "a duration such as 30s")
		}
		return d, nil
	})
}

// positive reads a duration above 0.
func positive(p *parser, dst *time.Duration) reader {
	return scalar(p, dst, "a duration", func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, want(s, "a positive duration such as 50ms")
		}
		return d, nil
	})
}

// size reads a byte count up to limit (limitName in errors): a plain
// integer or one with a K/KiB, M/MiB or G/GiB suffix (binary multiples, as
// socket buffer sizes usually are).
func size[T ~int | ~int64](p *parser, dst *T, limit uint64, limitName, example string) reader {
	return scalar(p, dst, "a size", func(s string) (T, error) {
		n, err := parseSize(s, limit)
		if err != nil {
			return 0, want(s, "a size from 1 byte to %s, such as %s", limitName, example)
		}
		return T(n), nil
	})
}

func parseSize(s string, limit uint64) (uint64, error) {
	num, mult := strings.TrimSpace(s), uint64(1)
	for _, suf := range []struct {
		s string
		m uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if strings.HasSuffix(num, suf.s) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, suf.s)), suf.m
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || n > limit/mult {
		return 0, errors.New("size out of range")
	}
	return n * mult, nil
}

// isNull says whether n is a key's missing value (`key:` alone, or null).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return strconv.Quote(n.Value)
}
