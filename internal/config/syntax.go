package config

import (
	"bytes"
	"strconv"
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
// list cut in the middle) is passed over. Each probe parses the file up to
// that point, so a file of more than maxSyntaxProbes lines is not searched:
// it is refused at once, at the library's line.
func syntaxError(file string, data []byte, err error) *Error {
	problem, libLine := yamlProblem(err)
	e := &Error{File: file, Msg: "not valid YAML: " + problem, Line: libLine}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxSyntaxProbes {
		return e
	}
	start := 0
	for i, line := range lines {
		end := start + len(line)
		if failsWith(data[:end], problem) {
			e.Line, e.Column = i+1, 1
			for c := 1; c < len(line) && c < maxSyntaxProbes; c++ {
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

// maxSyntaxProbes bounds the search of syntaxError: the longest file, in
// lines, and the column, searched for the place of a problem; far more than
// any agent configuration has.
const maxSyntaxProbes = 2000

// failsWith says whether data fails to parse with the given problem.
func failsWith(data []byte, problem string) bool {
	var n yaml.Node
	err := yaml.Unmarshal(data, &n)
	if err == nil {
		return false
	}
	p, _ := yamlProblem(err)
	return p == problem
}

// yamlProblem splits the YAML library's message ("yaml: line 1: did not
// find expected key") into the problem and the line it names (0: none).
func yamlProblem(err error) (problem string, line int) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, found := strings.Cut(rest, ": "); found {
			line, _ = strconv.Atoi(num)
			return after, line
		}
	}
	return msg, 0
}
