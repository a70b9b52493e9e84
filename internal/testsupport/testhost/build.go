package testhost

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// MainWithBinaries is a TestMain that first builds the packages (paths as
// go build takes them, such as "../../cmd/dsprobe") into a temporary
// directory, records each binary's path in bins under the package's base
// name, runs the tests, and removes the binaries. A build that fails ends
// the test binary with its output.
func MainWithBinaries(m *testing.M, bins map[string]string, pkgs ...string) {
	dir, err := os.MkdirTemp("", "testhost-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, pkg := range pkgs {
		name := filepath.Base(pkg)
		bins[name] = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", bins[name], pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
