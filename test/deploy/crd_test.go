package deploy_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/dsprobe/dsprobe/internal/ladder"
)

// schema is the part of a CRD's OpenAPI v3 schema that says what shape a
// field has.
type schema struct {
	Type       string            `json:"type"`
	Format     string            `json:"format"`
	Properties map[string]schema `json:"properties"`
	Items      *schema           `json:"items"`
	Required   []string          `json:"required"`
}

// dnsLadderSchema is the openAPIV3Schema of the DNSLadder CRD as
// deploy/base renders it.
func dnsLadderSchema(t *testing.T) schema {
	t.Helper()
	o := render(t, "deploy/base")
	for _, crd := range o.crds {
		b, err := json.Marshal(*crd)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Metadata struct{ Name string }
			Spec     struct {
				Versions []struct {
					Name   string
					Schema struct {
						OpenAPIV3Schema schema `json:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		if c.Metadata.Name != "dnsladders.dsprobe.io" {
			continue
		}
		if len(c.Spec.Versions) != 1 || c.Spec.Versions[0].Name != ladder.Version {
			t.Fatalf("the CRD serves versions %+v, want %s alone", c.Spec.Versions, ladder.Version)
		}
		return c.Spec.Versions[0].Schema.OpenAPIV3Schema
	}
	t.Fatal("deploy/base has no CRD dnsladders.dsprobe.io")
	return schema{}
}

var (
	durationType = reflect.TypeFor[ladder.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// The CRD's schema and internal/ladder's Go types cannot drift: every
// field of one is a field of the other, of the same shape, all the way
// down (metadata aside: the API server owns it). A field added to the Go
// types without the schema would be pruned by the API server; one added to
// the schema alone would be accepted and never read.
func TestDNSLadderCRDMatchesTheGoTypes(t *testing.T) {
	s := dnsLadderSchema(t)
	var problems []string
	walkSchema(&problems, "", s, reflect.TypeFor[ladder.DNSLadder]())
	for _, p := range problems {
		t.Error(p)
	}
}

// walkSchema reports where the schema s, at path, and the Go type t
// disagree.
func walkSchema(problems *[]string, path string, s schema, t reflect.Type) {
	fail := func(format string, args ...any) {
		*problems = append(*problems, fmt.Sprintf("%s: %s", cmp.Or(path, "(root)"), fmt.Sprintf(format, args...)))
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "boolean", reflect.Int: "integer", reflect.Float64: "number", reflect.Slice: "array", reflect.Struct: "object"}[t.Kind()]
	wantFormat := ""
	switch t {
	case durationType:
		want = "string"
	case timeType:
		want, wantFormat = "string", "date-time"
	}
	if s.Type != want || s.Format != wantFormat {
		fail("the schema says %s %q, the Go type %s is %s %q", s.Type, s.Format, t, want, wantFormat)
		return
	}
	switch {
	case t == durationType || t == timeType:
	case t.Kind() == reflect.Slice:
		if s.Items == nil {
			fail("an array without items")
			return
		}
		walkSchema(problems, path+"[]", *s.Items, t.Elem())
	case t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			prop, ok := s.Properties[name]
			switch {
			case !ok:
				fail("the Go type %s has field %s, the schema has not", t, name)
			case path == "" && name == "metadata":
				// The API server's own, validated by it.
			default:
				walkSchema(problems, join(path, name), prop, fields[name])
			}
		}
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			if _, ok := fields[name]; !ok {
				fail("the schema has field %s, the Go type %s has not", name, t)
			}
		}
		for _, name := range s.Required {
			if _, ok := s.Properties[name]; !ok {
				fail("required field %s is not a property", name)
			}
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// The walk itself finds drift: a schema missing a Go field, and one with a
// field of another shape.
func TestWalkSchemaFindsDrift(t *testing.T) {
	type inner struct {
		Every ladder.Duration `json:"every"`
	}
	type object struct {
		Name  string    `json:"name"`
		Inner inner     `json:"inner"`
		List  []int     `json:"list"`
		When  time.Time `json:"when"`
	}
	var good schema
	if err := yaml.Unmarshal([]byte(`
type: object
properties:
  name: {type: string}
  inner: {type: object, properties: {every: {type: string}}}
  list: {type: array, items: {type: integer}}
  when: {type: string, format: date-time}
`), &good); err != nil {
		t.Fatal(err)
	}
	var problems []string
	walkSchema(&problems, "", good, reflect.TypeFor[object]())
	if len(problems) != 0 {
		t.Fatalf("a matching schema: got %q, want no problem", problems)
	}
	bad := good
	bad.Properties = maps.Clone(good.Properties)
	delete(bad.Properties, "name")
	bad.Properties["list"] = schema{Type: "array", Items: &schema{Type: "string"}}
	bad.Properties["extra"] = schema{Type: "string"}
	walkSchema(&problems, "", bad, reflect.TypeFor[object]())
	want := []string{
		`list[]: the schema says string "", the Go type int is integer ""`,
		"(root): the Go type deploy_test.object has field name, the schema has not",
		"(root): the schema has field extra, the Go type deploy_test.object has not",
	}
	if !slices.Equal(problems, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(problems, "\n\t"), strings.Join(want, "\n\t"))
	}
}
