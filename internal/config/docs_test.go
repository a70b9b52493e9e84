package config

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docPath documents every field; these tests hold it to the code.
const docPath = "../../docs/configuration.md"

// docBlocks are the fenced code blocks of the document by their language
// ("yaml", "" for none).
func docBlocks(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string][]string{}
	re := regexp.MustCompile("(?ms)^```(\\w*)\n(.*?)^```$")
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		blocks[m[1]] = append(blocks[m[1]], m[2])
	}
	return blocks
}

// The document's examples are the valid fixtures, verbatim, so every
// example is a file TestValidFiles loads; and every fixture is shown.
func TestDocExamplesAreFixtures(t *testing.T) {
	blocks := docBlocks(t)
	files, _ := filepath.Glob("testdata/valid/*")
	fixtures := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fixtures[string(b)] = f
		if !slices.Contains(blocks["yaml"], string(b)) && !slices.Contains(blocks[""], string(b)) {
			t.Errorf("%s: %s is not shown verbatim", docPath, f)
		}
	}
	for _, b := range blocks["yaml"] {
		if _, ok := fixtures[b]; !ok {
			t.Errorf("%s: a YAML example is no valid fixture (add it to testdata/valid): %.80q", docPath, b)
		}
	}
}

// docRow is one row of a fields table: the field, its flags, its default.
type docRow struct{ field, flags, def string }

// docFields reads the table between <!-- fields:KIND --> and
// <!-- /fields:KIND -->.
func docFields(t *testing.T, kind string) []docRow {
	t.Helper()
	f, err := os.Open(docPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []docRow
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "<!-- fields:"+kind+" -->":
			in = true
		case line == "<!-- /fields:"+kind+" -->":
			return rows
		case in && strings.HasPrefix(line, "| `"):
			cells := strings.Split(strings.Trim(line, "|"), "|")
			if len(cells) != 4 {
				t.Fatalf("%s: row %q: want 4 cells", docPath, line)
			}
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			rows = append(rows, docRow{strings.Trim(cells[0], "`"), cells[1], cells[2]})
		}
	}
	t.Fatalf("%s: no table of %s fields", docPath, kind)
	return nil
}

// Every field is documented with its flag and its default, and every
// documented field exists.
func TestDocFields(t *testing.T) {
	prober, coordinator := DefaultProber(), DefaultCoordinator()
	tests := []struct {
		kind  string
		flags []flagSpec
		// defaults points to the kind's defaults.
		defaults any
		// aside are documented fields without a flag of their own.
		aside map[string]string
	}{
		{"prober", proberFlags, &prober, nil},
		{"coordinator", coordinatorFlags, &coordinator, map[string]string{
			"probers": "`--prober`, `--probers-file`", "probers[].name": "", "probers[].namespace": "", "probers[].address": "",
		}},
	}
	for _, tt := range tests {
		rows := map[string]docRow{}
		for _, r := range docFields(t, tt.kind) {
			rows[r.field] = r
		}
		for _, s := range tt.flags {
			row, ok := rows[s.field]
			if !ok {
				t.Errorf("%s: %s field %s is not documented", docPath, tt.kind, s.field)
				continue
			}
			delete(rows, s.field)
			if want := "`--" + s.flag + "`"; row.flags != want {
				t.Errorf("%s: %s field %s: got flag %s, want %s", docPath, tt.kind, s.field, row.flags, want)
			}
			// A default that is not the zero value is written as it is.
			v := field(tt.defaults, s.field)
			if !v.IsZero() {
				if want := fmt.Sprintf("`%v`", v.Interface()); row.def != want {
					t.Errorf("%s: %s field %s: got default %s, want %s", docPath, tt.kind, s.field, row.def, want)
				}
			}
		}
		for f, flags := range tt.aside {
			if row, ok := rows[f]; !ok || row.flags != flags {
				t.Errorf("%s: %s field %s: got %+v, want it documented with flags %q", docPath, tt.kind, f, row, flags)
			}
			delete(rows, f)
		}
		for f := range rows {
			t.Errorf("%s: %s field %s is documented but does not exist", docPath, tt.kind, f)
		}
	}
}
