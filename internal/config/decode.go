package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	goyaml "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"

	"github.com/dsprobe/dsprobe/internal/smallfile"
)

// readFile decodes the YAML file at path into out, which holds the
// defaults the file overrides: see decode.
func readFile(path, kind string, out any) error {
	b, err := smallfile.Read(path, smallfile.Limit)
	if err != nil {
		return err
	}
	return decode(path, b, kind, out)
}

// decode decodes the YAML document b, from the file name, into out (a
// pointer to a struct holding the defaults): see decodeDocument.
func decode(name string, b []byte, kind string, out any) error {
	doc, err := parseYAML(name, b)
	if err != nil {
		return err
	}
	return decodeDocument(name, doc, kind, out)
}

// parseYAML parses the YAML document b, from the file name, into maps,
// lists, strings, booleans and json.Numbers.
func parseYAML(name string, b []byte) (any, error) {
	// YAMLToJSONStrict refuses duplicate keys, which a plain conversion
	// would silently resolve to the last one.
	j, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		// Some YAML errors list their lines below a heading: keep the
		// message on one line, as every other.
		return nil, fmt.Errorf("%s: %s", name, strings.Join(strings.Fields(err.Error()), " "))
	}
	if err := oneDocument(b); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var doc any
	d := json.NewDecoder(bytes.NewReader(j))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return doc, nil
}

// decodeDocument decodes doc, parsed from the file name, into out (a
// pointer to a struct holding the defaults). The document must have
// apiVersion APIVersion and the kind given, and every field must be one
// of out's (by its exact name) with a value of its type: every problem is
// reported at once, each as "NAME: FIELD: problem". A field the document
// leaves out, or sets to null, keeps its default.
func decodeDocument(name string, doc any, kind string, out any) error {
	top, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: want a mapping with apiVersion: %s and kind: %s, got %s", name, APIVersion, kind, describe(doc))
	}
	var errs []error
	for _, want := range []struct{ field, value string }{{"apiVersion", APIVersion}, {"kind", kind}} {
		switch got, ok := top[want.field].(string); {
		case top[want.field] == nil:
			errs = append(errs, fmt.Errorf("%s: %s: missing, want %s", name, want.field, want.value))
		case ok && got != want.value: // not a string: see checkShape
			errs = append(errs, fmt.Errorf("%s: %s: want %s, got %s", name, want.field, want.value, describe(top[want.field])))
		}
	}
	errs = append(errs, checkShape(name, "", doc, reflect.TypeOf(out).Elem())...)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The shape is right, so this cannot fail but on a defect here.
	j, err := json.Marshal(doc)
	if err == nil {
		err = json.Unmarshal(j, out)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// oneDocument refuses a file of several YAML documents (separated by
// ---), of which the conversion to JSON would silently keep the first.
func oneDocument(b []byte) error {
	d := goyaml.NewDecoder(bytes.NewReader(b))
	var first, second any
	if err := d.Decode(&first); err != nil {
		return nil // none, or a syntax error YAMLToJSONStrict reported
	}
	if err := d.Decode(&second); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document (---): want one")
	}
	return nil
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// checkShape reports every field of v, the document's value at path, that
// is not one of t's or not of its type.
func checkShape(file, path string, v any, t reflect.Type) []error {
	if v == nil {
		return nil
	}
	fail := func(format string, args ...any) []error {
		return []error{fmt.Errorf("%s: %s: %s", file, path, fmt.Sprintf(format, args...))}
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		raw, err := json.Marshal(v)
		if err == nil {
			err = reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(raw)
		}
		if err != nil {
			return fail("%v", err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return fail("want a mapping, got %s", describe(v))
		}
		fields := jsonFields(t)
		var errs []error
		for _, key := range slices.Sorted(maps.Keys(m)) {
			f, ok := fields[key]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: %s: unknown field%s", file, join(path, key), suggest(key, fields)))
				continue
			}
			errs = append(errs, checkShape(file, join(path, key), m[key], f.Type)...)
		}
		return errs
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return fail("want a list, got %s", describe(v))
		}
		var errs []error
		for i, e := range list {
			errs = append(errs, checkShape(file, path+"["+strconv.Itoa(i)+"]", e, t.Elem())...)
		}
		return errs
	case reflect.String:
		if _, ok := v.(string); !ok {
			return fail("want a string, got %s", describe(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return fail("want true or false, got %s", describe(v))
		}
	case reflect.Int:
		n, ok := v.(json.Number)
		if _, err := strconv.ParseInt(string(n), 10, strconv.IntSize); !ok || err != nil {
			return fail("want a whole number, got %s", describe(v))
		}
	case reflect.Float64:
		n, ok := v.(json.Number)
		if _, err := n.Float64(); !ok || err != nil {
			return fail("want a number, got %s", describe(v))
		}
	default:
		// A field type added without teaching this function: a defect
		// the tests over every kind of file catch.
		return fail("config has no shape check for %s", t)
	}
	return nil
}

// jsonFields are t's fields by their JSON names.
func jsonFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		if f := t.Field(i); jsonName(f) != "" {
			fields[jsonName(f)] = f
		}
	}
	return fields
}

// jsonName is the name a field has in files ("" if it has none).
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// describe names a document value in a message: a string quoted, a
// number or boolean as written, a mapping or a list by what it is.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		return strconv.Quote(v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprint(v)
	}
}

// suggest names the known field an unknown one is most likely a typo of:
// the same name in another case, or one at most two edits away.
func suggest(key string, fields map[string]reflect.StructField) string {
	best, bestDistance := "", 3
	for name := range fields {
		d := editDistance(strings.ToLower(key), strings.ToLower(name))
		if d < bestDistance || (d == bestDistance && name < best) {
			best, bestDistance = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
