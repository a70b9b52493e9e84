package modroot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirHoldsThisModulesGoMod(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(Dir(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "module github.com/dsprobe/dsprobe\n"; string(mod[:len(want)]) != want {
		t.Errorf("go.mod begins %q, want %q", mod[:len(want)], want)
	}
}
