package apicontract

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// contractsPath is the contract reference users script against; the tests
// read the names they pin from it, so the document and the code cannot
// drift apart.
const contractsPath = "../../docs/contracts.md"

// contractTable is one delimited table of the reference: its header's
// column names and its rows of cells, with the Markdown code marks removed.
type contractTable struct {
	name   string
	header []string
	rows   [][]string
}

var (
	openMarker  = regexp.MustCompile(`^<!-- contract:(.+) -->$`)
	closeMarker = regexp.MustCompile(`^<!-- /contract:(.+) -->$`)
)

// contractTables parses every table of docs/contracts.md between
// <!-- contract:NAME --> and <!-- /contract:NAME -->, by NAME ("enum Layer",
// "metrics prober"). A block that is not exactly one well-formed table fails
// the test: a typo in the document must not make a name disappear silently.
func contractTables(t *testing.T) map[string]*contractTable {
	t.Helper()
	f, err := os.Open(contractsPath)
	if err != nil {
		t.Fatalf("the contract reference: %v", err)
	}
	defer f.Close()
	tables := map[string]*contractTable{}
	var cur *contractTable
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if m := openMarker.FindStringSubmatch(line); m != nil {
			if cur != nil {
				t.Fatalf("%s:%d: block %q opens inside block %q", contractsPath, n, m[1], cur.name)
			}
			if tables[m[1]] != nil {
				t.Fatalf("%s:%d: block %q appears twice", contractsPath, n, m[1])
			}
			cur = &contractTable{name: m[1]}
			continue
		}
		if m := closeMarker.FindStringSubmatch(line); m != nil {
			if cur == nil || m[1] != cur.name {
				t.Fatalf("%s:%d: block %q closes but was not open", contractsPath, n, m[1])
			}
			if cur.header == nil {
				t.Fatalf("%s:%d: block %q holds no table", contractsPath, n, cur.name)
			}
			tables[cur.name], cur = cur, nil
			continue
		}
		if cur == nil {
			continue
		}
		if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") {
			t.Fatalf("%s:%d: block %q: want only table rows up to <!-- /contract:%s -->, got %q", contractsPath, n, cur.name, cur.name, line)
		}
		cells := splitRow(line)
		switch {
		case cur.header == nil:
			cur.header = cells
		case len(cur.rows) == 0 && isSeparator(cells) && len(cells) == len(cur.header):
			// The |---|---| line under the header.
		case len(cells) != len(cur.header):
			t.Fatalf("%s:%d: block %q: row has %d cells, the header %d", contractsPath, n, cur.name, len(cells), len(cur.header))
		default:
			cur.rows = append(cur.rows, cells)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", contractsPath, err)
	}
	if cur != nil {
		t.Fatalf("%s: block %q is never closed", contractsPath, cur.name)
	}
	return tables
}

// splitRow splits "| `a` | b |" into ["a", "b"].
func splitRow(line string) []string {
	cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|"), "|")
	for i, c := range cells {
		cells[i] = strings.TrimSpace(strings.ReplaceAll(c, "`", ""))
	}
	return cells
}

func isSeparator(cells []string) bool {
	return !slices.ContainsFunc(cells, func(c string) bool { return strings.Trim(c, "-:") != "" || c == "" })
}

// table returns the block called name.
func table(t *testing.T, tables map[string]*contractTable, name string) *contractTable {
	t.Helper()
	tb := tables[name]
	if tb == nil {
		t.Fatalf("%s has no block <!-- contract:%s -->", contractsPath, name)
	}
	return tb
}

// column returns the cells of the column headed name, one per row.
func (tb *contractTable) column(t *testing.T, name string) []string {
	t.Helper()
	i := slices.Index(tb.header, name)
	if i < 0 {
		t.Fatalf("%s: block %q has no column %q (it has %v)", contractsPath, tb.name, name, tb.header)
	}
	cells := make([]string, len(tb.rows))
	for r, row := range tb.rows {
		cells[r] = row[i]
	}
	return cells
}

// namesWithPrefix returns the names after prefix of the blocks called
// "prefix NAME" ("enum " gives every documented enum), sorted.
func namesWithPrefix(tables map[string]*contractTable, prefix string) []string {
	var names []string
	for name := range tables {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			names = append(names, rest)
		}
	}
	slices.Sort(names)
	return names
}

// compareSets reports, both ways, what is documented but not in the code
// and what is in the code but not documented.
func compareSets(t *testing.T, what string, documented, inCode []string) {
	t.Helper()
	for _, d := range documented {
		if !slices.Contains(inCode, d) {
			t.Errorf("%s %q is documented in %s but not in the code", what, d, contractsPath)
		}
	}
	for _, c := range inCode {
		if !slices.Contains(documented, c) {
			t.Errorf("%s %q is in the code but not documented in %s", what, c, contractsPath)
		}
	}
}
