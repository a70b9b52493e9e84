package apicontract

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsprobe/dsprobe/internal/ladder"
)

// Every JSON key of the DNSLadder resource (the CRD's and the file's, and
// what dsprobe ladder run -o json writes) is documented in its
// <!-- contract:ladder TYPE --> table with its type, and every documented
// key exists: a field added, renamed or retyped on one side fails here.
func TestLadderIsDocumented(t *testing.T) {
	tables := contractTables(t)
	seen := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		name := typ.Name()
		if seen[name] {
			return
		}
		seen[name] = true
		documented := ladderKeys(t, tables, name)
		written := map[string]bool{}
		for i := range typ.NumField() {
			f := typ.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if key == "" || key == "-" {
				continue
			}
			written[key] = true
			want, elem := ladderDocType(f.Type)
			switch got, ok := documented[key]; {
			case !ok:
				t.Errorf("%s.%s is written but not documented in %s", name, key, contractsPath)
			case got != want:
				t.Errorf("%s.%s is documented as %s, want %s", name, key, got, want)
			}
			if elem != nil {
				walk(elem)
			}
		}
		for key := range documented {
			if !written[key] {
				t.Errorf("%s.%s is documented but %s has no such field", name, key, name)
			}
		}
	}
	walk(reflect.TypeFor[ladder.DNSLadder]())
	for _, name := range namesWithPrefix(tables, "ladder ") {
		if !seen[name] {
			t.Errorf("%s documents ladder %s, which the DNSLadder does not hold", contractsPath, name)
		}
	}
}

// ladderKeys are the keys of the block "ladder TYPE" and their types.
func ladderKeys(t *testing.T, tables map[string]*contractTable, typ string) map[string]string {
	t.Helper()
	tb := table(t, tables, "ladder "+typ)
	keys, types := tb.column(t, "key"), tb.column(t, "type")
	documented := map[string]string{}
	for i, k := range keys {
		if _, dup := documented[k]; dup {
			t.Errorf("ladder %s.%s is documented twice", typ, k)
		}
		documented[k] = types[i]
	}
	return documented
}

// ladderDocType is how the contract names a field of Go type typ, and the
// struct to walk into, if any.
func ladderDocType(typ reflect.Type) (string, reflect.Type) {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ == reflect.TypeFor[ladder.Duration]():
		return "duration", nil
	case typ == reflect.TypeFor[time.Time]():
		return "timestamp", nil
	case typ.Kind() == reflect.Slice:
		elem, inner := ladderDocType(typ.Elem())
		return elem + "[]", inner
	case typ.Kind() == reflect.Struct:
		return typ.Name(), typ
	case typ.Kind() == reflect.String:
		return "string", nil
	case typ.Kind() == reflect.Bool:
		return "bool", nil
	case slices.Contains([]reflect.Kind{reflect.Int, reflect.Float64}, typ.Kind()):
		return "number", nil
	}
	return typ.String(), nil
}
