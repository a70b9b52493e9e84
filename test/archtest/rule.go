package archtest

import (
	"errors"
	"fmt"
	"strings"
)

// The fixed sentences of a rule paragraph, without their full stop.
const (
	testSupportSentence = "It is test support: only tests and other test support may import it"
	anyProductSentence  = "It may depend on any package but test support"
)

// The sentences that carry a list, as prefix + LIST + suffix.
var listForms = []struct {
	prefix, suffix string
	field          func(*Rule) **Clause
	standardOK     bool // whether "the standard library" may be in the list
}{
	// "nothing outside" before "LIST alone": both start "It must depend on".
	{"It must depend on nothing outside ", "", func(r *Rule) **Clause { return &r.DependOnly }, true},
	{"It must depend on ", " alone", func(r *Rule) **Clause { return &r.DependOnly }, true},
	{"It must import nothing outside ", "", func(r *Rule) **Clause { return &r.ImportOnly }, true},
	{"It must not depend on: ", "", func(r *Rule) **Clause { return &r.DependNone }, false},
	{"It must not depend on ", "", func(r *Rule) **Clause { return &r.DependNone }, false},
	{"Only ", " may import it", func(r *Rule) **Clause { return &r.ImportersOnly }, false},
}

// errForms ends every error about a sentence that fits no form, so the
// writer of a doc.go sees what would have been understood.
const errForms = `a rule sentence is one of: "It must depend on LIST alone.", ` +
	`"It must depend on nothing outside LIST.", "It must import nothing outside LIST.", ` +
	`"It must not depend on LIST.", "Only LIST may import it.", "` + anyProductSentence + `.", "` +
	testSupportSentence + `." (see test/archtest)`

// A Rule is the dependency promise of one package: the sentences of the
// last paragraph of its package comment. A nil clause is a sentence the
// paragraph does not have.
type Rule struct {
	DependOnly    *Clause // "It must depend on LIST alone." / "... on nothing outside LIST."
	ImportOnly    *Clause // "It must import nothing outside LIST."
	DependNone    *Clause // "It must not depend on LIST."
	ImportersOnly *Clause // "Only LIST may import it."
	// TestSupport: "It is test support: only tests and other test support may import it."
	TestSupport bool
	// AnyProduct: "It may depend on any package but test support."
	AnyProduct bool
}

// A Clause is one sentence of a rule with its list.
type Clause struct {
	Sentence        string // as written, on one line, with its full stop
	StandardLibrary bool   // the list names "the standard library"
	Patterns        []Pattern
}

// Allows reports whether the clause's list holds the package: the standard
// library's packages when the list names it, else those its patterns match.
func (c *Clause) Allows(pkg string, standard bool, module string) bool {
	if standard && c.StandardLibrary {
		return true
	}
	for _, p := range c.Patterns {
		if p.Match(pkg, module) {
			return true
		}
	}
	return false
}

// A Pattern is an import path as a rule writes it: relative to the module
// when it starts with internal/, cmd/ or gen/ (the module's top-level
// directories), else a full import path; a trailing /... stands for the
// package and every package under it.
type Pattern string

// Match reports whether the pattern names the package pkg of a module whose
// path is module.
func (p Pattern) Match(pkg, module string) bool {
	full := p.Resolve(module)
	if base, ok := strings.CutSuffix(full, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == full
}

// Resolve returns the pattern with the module's path in front when it is
// relative to the module, else as it is.
func (p Pattern) Resolve(module string) string {
	first, _, _ := strings.Cut(string(p), "/")
	switch first {
	case "internal", "cmd", "gen":
		return module + "/" + string(p)
	}
	return string(p)
}

// ParseRule reads the rule of a package comment (the comment's text, as
// go/ast's CommentGroup.Text gives it): its last paragraph, made only of
// rule sentences. The error says what is wrong and which forms there are.
func ParseRule(comment string) (Rule, error) {
	paragraph := lastParagraph(comment)
	if paragraph == "" {
		return Rule{}, errors.New("no package comment, so no rule; " + errForms)
	}
	sentences, err := splitSentences(paragraph)
	if err != nil {
		return Rule{}, err
	}
	var rule Rule
	var errs []error
	unknown := false
	for _, s := range sentences {
		err := rule.add(s)
		unknown = unknown || errors.Is(err, errNotRule)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if unknown {
		errs = append(errs, errors.New(errForms))
	}
	if len(errs) > 0 {
		return Rule{}, errors.Join(errs...)
	}
	if err := rule.complete(); err != nil {
		return Rule{}, err
	}
	return rule, nil
}

// errNotRule marks a sentence of the rule paragraph that fits no form.
var errNotRule = errors.New("is not a rule sentence")

// add parses one sentence (without its full stop) into the rule.
func (r *Rule) add(sentence string) error {
	switch sentence {
	case testSupportSentence:
		return setFlag(&r.TestSupport, sentence)
	case anyProductSentence:
		return setFlag(&r.AnyProduct, sentence)
	}
	for _, form := range listForms {
		rest, ok := strings.CutPrefix(sentence, form.prefix)
		if !ok {
			continue
		}
		list, ok := strings.CutSuffix(rest, form.suffix)
		if !ok {
			continue
		}
		clause, err := parseList(list, form.standardOK)
		if err != nil {
			return fmt.Errorf("%q: %w", sentence+".", err)
		}
		clause.Sentence = sentence + "."
		field := form.field(r)
		if *field != nil {
			return fmt.Errorf("%q and %q say the same kind of thing twice: join their lists", (*field).Sentence, clause.Sentence)
		}
		*field = clause
		return nil
	}
	return fmt.Errorf("%q %w", sentence+".", errNotRule)
}

func setFlag(flag *bool, sentence string) error {
	if *flag {
		return fmt.Errorf("%q is written twice", sentence+".")
	}
	*flag = true
	return nil
}

// complete checks that the sentences make one rule: it must say what the
// package may depend on, and not contradict itself.
func (r *Rule) complete() error {
	if r.DependOnly == nil && r.ImportOnly == nil && r.DependNone == nil && !r.AnyProduct {
		return errors.New("the rule does not say what the package may depend on: " +
			`add "It must depend on LIST alone.", "It must depend on nothing outside LIST.", ` +
			`"It must import nothing outside LIST.", "It must not depend on LIST." or "` + anyProductSentence + `."`)
	}
	if r.AnyProduct && (r.DependOnly != nil || r.ImportOnly != nil || r.DependNone != nil) {
		return fmt.Errorf("%q contradicts the rule's other dependency sentences", anyProductSentence+".")
	}
	if r.TestSupport && r.ImportersOnly != nil {
		return fmt.Errorf("%q and %q both say who may import the package: keep one", testSupportSentence+".", r.ImportersOnly.Sentence)
	}
	return nil
}

// lastParagraph returns the last paragraph of a comment's text with its
// lines joined and its spaces collapsed.
func lastParagraph(comment string) string {
	paragraphs := strings.Split(strings.TrimSpace(comment), "\n\n")
	return strings.Join(strings.Fields(paragraphs[len(paragraphs)-1]), " ")
}

// splitSentences cuts a paragraph at every word that ends in a full stop,
// except a pattern's /..., and returns the sentences without their stops.
func splitSentences(paragraph string) ([]string, error) {
	var sentences []string
	var words []string
	for _, w := range strings.Fields(paragraph) {
		if strings.HasSuffix(w, ".") && !strings.HasSuffix(w, "/...") {
			words = append(words, strings.TrimSuffix(w, "."))
			sentences = append(sentences, strings.Join(words, " "))
			words = nil
			continue
		}
		words = append(words, w)
	}
	if len(words) > 0 {
		return nil, fmt.Errorf("the rule paragraph ends in %q, without a full stop; %s", strings.Join(words, " "), errForms)
	}
	return sentences, nil
}

// parseList reads "a, b and c" (also "a, b, and c", "a or b", "a"), each
// item an import path pattern or, where standardOK, "the standard library".
func parseList(list string, standardOK bool) (*Clause, error) {
	items := strings.Split(list, ",")
	last := strings.TrimSpace(items[len(items)-1])
	items = items[:len(items)-1]
	joined := false
	if len(items) > 0 { // "a, b, and c": the conjunction follows the last comma
		for _, conj := range []string{"and ", "or "} {
			if rest, ok := strings.CutPrefix(last, conj); ok {
				last, joined = rest, true
				break
			}
		}
	}
	if !joined { // "a and b", "a, b or c"
		for _, conj := range []string{" and ", " or "} {
			if before, after, ok := strings.Cut(last, conj); ok {
				items = append(items, before)
				last = after
				break
			}
		}
	}
	items = append(items, last)

	clause := &Clause{}
	for _, item := range items {
		item = strings.TrimSpace(item)
		switch {
		case item == "the standard library" && standardOK:
			clause.StandardLibrary = true
		case item == "the standard library":
			return nil, errors.New(`"the standard library" can only be allowed, in "It must depend on" or "It must import" sentences`)
		default:
			if err := checkPattern(item); err != nil {
				return nil, err
			}
			clause.Patterns = append(clause.Patterns, Pattern(item))
		}
	}
	return clause, nil
}

// checkPattern refuses what cannot be an import path pattern, which is what
// a list item becomes when the list is written wrongly ("a and b, c").
func checkPattern(item string) error {
	if item == "" {
		return errors.New("the list has an empty item: items are separated by commas, the last one by and/or")
	}
	bad := func(why string) error { return fmt.Errorf("%q is not an import path or a path/...: %s", item, why) }
	if strings.ContainsAny(item, " \t") {
		return bad("items are separated by commas, the last one by and/or")
	}
	path := strings.TrimSuffix(item, "/...")
	if strings.Contains(path, "...") {
		return bad("... may only end a pattern, as /...")
	}
	for _, elem := range strings.Split(path, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return bad("it has an empty, . or .. path element")
		}
	}
	for _, r := range path {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/", r)) {
			return bad(fmt.Sprintf("%q cannot be in an import path", r))
		}
	}
	return nil
}
