package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestCI(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "1": true, "TRUE": true, "": false, "false": false, "0": false} {
		t.Setenv("CI", v)
		if got := CI(); got != want {
			t.Errorf("CI=%q: %v, want %v", v, got, want)
		}
	}
}

// missingEnv makes the test binary, run again as a child, play a test whose
// requirement is missing.
const missingEnv = "TESTENV_MISSING"

// Under CI a missing requirement fails the test; elsewhere it skips it. A
// test cannot watch itself fail, so the verdict is read from a child run of
// this test binary.
func TestSkipfFailsOnlyUnderCI(t *testing.T) {
	if what := os.Getenv(missingEnv); what != "" {
		Skipf(t, "%s not found", what)
		return
	}
	for ci, want := range map[string]string{"true": "--- FAIL", "false": "--- SKIP"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkipfFailsOnlyUnderCI$", "-test.v")
		cmd.Env = append(os.Environ(), "CI="+ci, missingEnv+"=gizmo")
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), want) || !strings.Contains(string(out), "gizmo not found") {
			t.Errorf("CI=%s: want %q and the reason, got:\n%s", ci, want, out)
		}
	}
}
