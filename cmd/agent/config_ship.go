package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/nflog-agent/nflog-agent/ship"
)

// spool reads `spool: {dir: PATH, max_bytes: SIZE, memory_events: N,
// sync_interval: DURATION, sync_bytes: SIZE}`.
func (p *parser) spool(v *yaml.Node, s *spoolConfig) error {
	memLine := 0
	err := p.section(v, "spool", func(key string, k, val *yaml.Node) error {
		full := "spool." + key
		switch key {
		case "dir":
			d, err := p.str(val, full)
			if err == nil && d == "" {
				err = p.errorf(val, full, "empty: omit dir for an in-memory queue")
			}
			s.Dir = d
			return err
		case "max_bytes":
			if val.Kind != yaml.ScalarNode {
				return p.errorf(val, full, "want a size, got %s", kindName(val))
			}
			n, err := parseSizeMax(val.Value, 1<<40, "1024GiB", "1GiB or 1073741824")
			if err != nil {
				return p.errorf(val, full, "%v", err)
			}
			s.MaxBytes = int64(n)
			return nil
		case "memory_events":
			n, err := p.uint(val, full, 1, 1<<26)
			s.MemoryEvents, memLine = int(n), val.Line
			return err
		case "sync_interval":
			d, err := p.duration(val, full)
			if err == nil && d > time.Second {
				err = p.errorf(val, full, "%q: at most 1s (events wait that long for their fsync)", val.Value)
			}
			s.Appender.BatchWait = d
			return err
		case "sync_bytes":
			n, err := p.size(val, full)
			if err == nil && n > 64<<20 {
				err = p.errorf(val, full, "%q: at most 64MiB (the batch is held in memory)", val.Value)
			}
			s.Appender.BatchBytes = n
			return err
		}
		return p.errorf(k, full, "unknown key (want dir, max_bytes, memory_events, sync_interval or sync_bytes)")
	})
	if err != nil {
		return err
	}
	if s.Dir != "" && s.MemoryEvents != 0 {
		return &configError{File: p.file, Line: memLine, Key: "spool.memory_events",
			Msg: "applies to the in-memory queue only (no spool.dir)"}
	}
	return nil
}

// sinks reads the `sinks:` list into ship.SinkConfig values. The node tree
// is first walked against the struct's yaml tags, so an unknown key or a
// bad value anywhere (sinks[0].tls.ca_fil) is an error with its line, which
// yaml's own decoding does not report; then each sink is validated as ship
// would at start.
func (p *parser) sinks(v *yaml.Node) ([]ship.SinkConfig, error) {
	if v.Kind != yaml.SequenceNode {
		return nil, p.errorf(v, "sinks", "want a list of sinks, got %s", kindName(v))
	}
	if len(v.Content) == 0 {
		return nil, p.errorf(v, "sinks", "empty: configure at least one sink, or leave sinks out for stdout")
	}
	var out []ship.SinkConfig
	for i, item := range v.Content {
		path := fmt.Sprintf("sinks[%d]", i)
		p.lines[path] = item.Line
		if err := p.walk(item, reflect.TypeFor[ship.SinkConfig](), path); err != nil {
			return nil, err
		}
		var c ship.SinkConfig
		if err := item.Decode(&c); err != nil {
			return nil, p.errorf(item, path, "%v", err)
		}
		if err := ship.ValidateSinks([]ship.SinkConfig{c}); err != nil {
			key, msg := sinkKey(path, err)
			if line := p.lines[key]; line != 0 {
				return nil, &configError{File: p.file, Line: line, Key: key, Msg: msg}
			}
			return nil, p.errorf(item, key, "%s", msg)
		}
		if c.Type == ship.TypeSekoia && c.Region != "" && ship.SekoiaURL(c.Region) == "" {
			return nil, p.errorf(item, path+".region", "%q: want fra1, fra2, mco1, uae1, usa1 or sgp1", c.Region)
		}
		out = append(out, c)
	}
	if err := ship.ValidateSinks(out); err != nil {
		return nil, p.errorf(v, "sinks", "%s", strings.TrimPrefix(err.Error(), "ship: "))
	}
	return out, nil
}

var durationType = reflect.TypeFor[time.Duration]()

// walk checks n against the Go type t: structs take the keys of their yaml
// tags, maps any key, and every scalar must decode into its field.
func (p *parser) walk(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // `key:` with no value leaves the default
	}
	switch {
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return p.errorf(n, path, "want a mapping, got %s", kindName(n))
		}
		fields := map[string]reflect.Type{}
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" && f.IsExported() {
				fields[name] = f.Type
			}
		}
		return p.mapping(n, path+".", func(key string, k, v *yaml.Node) error {
			ft, ok := fields[key]
			if !ok {
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				sort.Strings(names)
				return p.errorf(k, path+"."+key, "unknown key (want one of %s)", strings.Join(names, ", "))
			}
			return p.walk(v, ft, path+"."+key)
		})
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return p.errorf(n, path, "want a mapping, got %s", kindName(n))
		}
		return p.mapping(n, path+".", func(key string, k, v *yaml.Node) error {
			return p.walk(v, t.Elem(), fmt.Sprintf("%s[%q]", path, key))
		})
	}
	if n.Kind != yaml.ScalarNode {
		return p.errorf(n, path, "want %s, got %s", typeName(t), kindName(n))
	}
	ptr := reflect.New(t)
	if err := n.Decode(ptr.Interface()); err != nil {
		return p.errorf(n, path, "%q: want %s", n.Value, typeName(t))
	}
	if t == durationType && ptr.Elem().Int() < 0 {
		return p.errorf(n, path, "%q: want %s", n.Value, typeName(t))
	}
	return nil
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 30s"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "an integer"
	case reflect.String:
		return "a string"
	}
	return t.String()
}
