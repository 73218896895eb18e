package config

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// syntaxError places a YAML syntax error at the line and column where the
// problem is. The YAML library's message names the line where the
// enclosing block began (bad indentation on line 3 of a list that starts on
// line 2 reads "line 1"), or no line at all. Parsing stops at the first
// problem, so the shortest prefix of the file that fails with the same
// message ends right at it: the search tries whole lines first, then the
// characters of the line found. A prefix that fails for another reason (a
// list cut in the middle) is passed over.
func syntaxError(file string, data []byte, err error) *Error {
	problem := yamlProblem(err)
	e := &Error{File: file, Msg: "not valid YAML: " + problem}
	start := 0
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		end := start + len(line)
		if failsWith(data[:end], problem) {
			e.Line, e.Column = i+1, 1
			for c := 1; c < len(line); c++ {
				if failsWith(data[:start+c], problem) {
					e.Column = utf8.RuneCount(line[:c])
					break
				}
			}
			return e
		}
		start = end
	}
	return e
}

// failsWith says whether data fails to parse with the given problem.
func failsWith(data []byte, problem string) bool {
	var n yaml.Node
	err := yaml.Unmarshal(data, &n)
	return err != nil && yamlProblem(err) == problem
}

// yamlProblem is the YAML library's message without its prefix and its
// line number ("yaml: line 1: did not find expected key").
func yamlProblem(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if _, after, found := strings.Cut(rest, ": "); found {
			return after
		}
	}
	return msg
}
