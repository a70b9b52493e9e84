package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A newcomer copies the README's examples and compares what they print with
// what the README says they show, so those claims are tested like code: every
// example of a command that needs no network, in a fenced sh block, carries a
// line under it that says what it shows,
//
//	dsprobe simulate --profile go --src 2001:db8::2 --src 192.0.2.2 \
//	    --attempt 2001:db8::1=timeout --attempt 192.0.2.1=connected:2ms
//	# -> IPv4 after 302ms, fallback delay 300ms, LAYER_NONE, exit 0
//
// and the test runs the example through Run and checks every fact of that
// line. The facts, separated by commas, are those of readmeFacts.

// offlineCommands are the dsprobe commands whose README examples are run:
// they need no network, so they show the same on every machine.
var offlineCommands = []string{"simulate", "order", "profiles"}

// factsMarker starts the line under an example that says what it shows.
const factsMarker = "# ->"

// readmeExample is one example of an offline command in the README.
type readmeExample struct {
	line  int      // the README line the command starts on
	args  []string // the arguments after "dsprobe"
	facts []string // what the line under it says it shows
}

func (ex readmeExample) String() string {
	return fmt.Sprintf("line %d: dsprobe %s", ex.line, strings.Join(ex.args, " "))
}

// readmeExamples returns the examples of offlineCommands in the fenced sh
// blocks of a README, joining lines continued with a backslash and dropping
// trailing comments. It reports every example without its facts line, every
// facts line under no example, and every example with shell syntax it could
// not run the way a shell would, all at once.
func readmeExamples(readme string) ([]readmeExample, error) {
	var (
		examples []readmeExample
		problems []string
		pending  *readmeExample // the last example, until its facts line
		inFence  bool
		inSh     bool
	)
	unchecked := func() {
		if pending != nil {
			problems = append(problems, fmt.Sprintf("%v: no %q line under it says what it shows", pending, factsMarker))
			pending = nil
		}
	}
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimSpace(lines[i])
		if info, ok := strings.CutPrefix(line, "```"); ok {
			unchecked()
			inSh = !inFence && info == "sh"
			inFence = !inFence
			continue
		}
		if !inSh || line == "" {
			continue
		}
		if facts, ok := strings.CutPrefix(line, factsMarker); ok {
			if pending == nil {
				problems = append(problems, fmt.Sprintf("line %d: %q is under no example of dsprobe %s", lineNo, line, strings.Join(offlineCommands, ", ")))
				continue
			}
			for _, fact := range strings.Split(facts, ",") {
				pending.facts = append(pending.facts, strings.TrimSpace(fact))
			}
			examples = append(examples, *pending)
			pending = nil
			continue
		}
		unchecked()
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(lines[i])
		}
		words := strings.Fields(line)
		if comment := slices.IndexFunc(words, func(w string) bool { return strings.HasPrefix(w, "#") }); comment >= 0 {
			words = words[:comment]
		}
		if len(words) < 2 || words[0] != "dsprobe" || !slices.Contains(offlineCommands, words[1]) {
			continue
		}
		ex := readmeExample{line: lineNo, args: words[1:]}
		if strings.ContainsAny(strings.Join(ex.args, " "), "'\"`$|;&<>()*?") {
			problems = append(problems, fmt.Sprintf("%v: shell syntax the test cannot run as a shell would; keep the example to plain words", ex))
			continue
		}
		pending = &ex
	}
	unchecked()
	if len(problems) > 0 {
		return examples, fmt.Errorf("README examples:\n%s", strings.Join(problems, "\n"))
	}
	return examples, nil
}

// exampleJSON is the -o json output of the offline commands, each filling
// its own fields: a simulated client's race (simulate), the sorted addresses
// (order), the profiles and their parameters (profiles).
type exampleJSON struct {
	Family          string
	TimeToConnectMs *float64
	FallbackDelayMs *float64
	FailingLayer    string
	Addresses       []string
	Profiles        []struct {
		Name       string
		Parameters map[string]string
	}
}

// exampleResult is what an example did: its exit code as the README writes
// it, and its output in JSON.
type exampleResult struct {
	exit int
	json exampleJSON
}

// readmeFact is one kind of fact a facts line may state: its form, and how
// it is checked against what the example did.
type readmeFact struct {
	form  *regexp.Regexp
	check func(m []string, got exampleResult) error
}

// exitFact is the exit code, "exit 1", which every example states.
var exitFact = readmeFact{
	form: regexp.MustCompile(`^exit (\d+)$`),
	check: func(m []string, got exampleResult) error {
		return wantEqual("exit code", strconv.Itoa(got.exit), m[1])
	},
}

// readmeFacts are the facts a README example may state. A fact of no known
// form fails the test, so a mistyped claim is never silently unchecked.
var readmeFacts = []readmeFact{
	exitFact,
	{ // the family a simulated client ends on, and when: "IPv4 after 302ms", "no connection after 127s"
		form: regexp.MustCompile(`^(IPv4|IPv6|no connection) after (\S+)$`),
		check: func(m []string, got exampleResult) error {
			family := map[string]string{"IPv4": "FAMILY_IPV4", "IPv6": "FAMILY_IPV6", "no connection": "FAMILY_UNSPECIFIED"}[m[1]]
			if err := wantEqual("family", got.json.Family, family); err != nil {
				return err
			}
			return wantMillis("timeToConnectMs", got.json.TimeToConnectMs, m[2])
		},
	},
	{ // the time it lost to the failing family: "fallback delay 300ms"
		form: regexp.MustCompile(`^fallback delay (\S+)$`),
		check: func(m []string, got exampleResult) error {
			return wantMillis("fallbackDelayMs", got.json.FallbackDelayMs, m[1])
		},
	},
	{ // a simulated client's verdict: "LAYER_CLIENT"
		form: regexp.MustCompile(`^LAYER_[A-Z_]+$`),
		check: func(m []string, got exampleResult) error {
			return wantEqual("failingLayer", got.json.FailingLayer, m[0])
		},
	},
	{ // the order of two sorted addresses: "10.0.0.1 before fd00::1"
		form: regexp.MustCompile(`^(\S+) before (\S+)$`),
		check: func(m []string, got exampleResult) error {
			first, second := slices.Index(got.json.Addresses, m[1]), slices.Index(got.json.Addresses, m[2])
			if first < 0 || second < 0 || first > second {
				return fmt.Errorf("got order %v, want %s before %s", got.json.Addresses, m[1], m[2])
			}
			return nil
		},
	},
	{ // how many profiles are listed: "17 profiles"
		form: regexp.MustCompile(`^(\d+) profiles$`),
		check: func(m []string, got exampleResult) error {
			return wantEqual("number of profiles", strconv.Itoa(len(got.json.Profiles)), m[1])
		},
	},
	{ // a parameter of the one profile shown, as an override names it: "attempt-delay=250ms"
		form: regexp.MustCompile(`^([a-z-]+)=(\S+)$`),
		check: func(m []string, got exampleResult) error {
			if len(got.json.Profiles) != 1 {
				return fmt.Errorf("got %d profiles, want the one whose %s the README names", len(got.json.Profiles), m[1])
			}
			value, ok := got.json.Profiles[0].Parameters[m[1]]
			if !ok {
				return fmt.Errorf("profile %s has no parameter %s", got.json.Profiles[0].Name, m[1])
			}
			return wantEqual(m[1], value, m[2])
		},
	},
}

func wantEqual(what, got, want string) error {
	if got != want {
		return fmt.Errorf("got %s %s, want %s", what, got, want)
	}
	return nil
}

// wantMillis checks a JSON duration in milliseconds against a Go duration
// as the README writes it ("302ms", "127s").
func wantMillis(key string, got *float64, want string) error {
	d, err := time.ParseDuration(want)
	if err != nil {
		return fmt.Errorf("%q is not a duration: %v", want, err)
	}
	if got == nil {
		return fmt.Errorf("got no %s, want %s", key, want)
	}
	if ms := float64(d) / float64(time.Millisecond); *got != ms {
		return fmt.Errorf("got %s %v, want %v (%s)", key, *got, ms, want)
	}
	return nil
}

// checkExample runs an example as the README writes it, and again with
// -o json, and returns every fact of it that what it did contradicts.
func checkExample(ctx context.Context, ex readmeExample) []string {
	var stdout, stderr bytes.Buffer
	got := exampleResult{exit: Run(ctx, ex.args, &stdout, &stderr)}
	var jsonOut, jsonErr bytes.Buffer
	// -o is the last flag, so it overrides any -o of the example.
	if code := Run(ctx, append(slices.Clip(ex.args), "-o", "json"), &jsonOut, &jsonErr); code != got.exit {
		return []string{fmt.Sprintf("got exit %d with -o json, %d without (stderr %q)", code, got.exit, jsonErr.String())}
	}
	if err := json.Unmarshal(jsonOut.Bytes(), &got.json); err != nil {
		return []string{fmt.Sprintf("bad JSON %q (stderr %q): %v", jsonOut.String(), jsonErr.String(), err)}
	}
	var problems []string
	exitStated := false
	for _, fact := range ex.facts {
		kind := slices.IndexFunc(readmeFacts, func(f readmeFact) bool { return f.form.MatchString(fact) })
		if kind < 0 {
			problems = append(problems, fmt.Sprintf("%q is no fact the test can check", fact))
			continue
		}
		exitStated = exitStated || exitFact.form.MatchString(fact)
		if err := readmeFacts[kind].check(readmeFacts[kind].form.FindStringSubmatch(fact), got); err != nil {
			problems = append(problems, fmt.Sprintf("%q: %v", fact, err))
		}
	}
	if !exitStated {
		problems = append(problems, fmt.Sprintf("the facts %q do not say the exit code (exit %d)", ex.facts, got.exit))
	}
	if len(problems) > 0 && stderr.Len() > 0 {
		problems = append(problems, "stderr: "+strings.TrimSpace(stderr.String()))
	}
	return problems
}

func TestREADMEExamples(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := readmeExamples(string(readme))
	if err != nil {
		t.Error(err)
	}
	// A README reshaped so that no example is found any more must not pass
	// for a README whose examples all hold.
	for _, command := range offlineCommands {
		if !slices.ContainsFunc(examples, func(ex readmeExample) bool { return ex.args[0] == command }) {
			t.Errorf("found no checked example of dsprobe %s in README.md", command)
		}
	}
	for _, ex := range examples {
		for _, problem := range checkExample(context.Background(), ex) {
			t.Errorf("README.md %v: %s", ex, problem)
		}
	}
}

// TestREADMEExampleCheck shows that the check fails when an example stops
// matching the code: each README here states one fact that is wrong.
func TestREADMEExampleCheck(t *testing.T) {
	const goOnBlackholedIPv6 = "dsprobe simulate --profile go --src 2001:db8::2 --src 192.0.2.2 \\\n" +
		"    --attempt 2001:db8::1=timeout --attempt 192.0.2.1=connected:2ms   # a comment\n"
	const rfcOrder = "dsprobe order --src fd00::2 --src 10.0.0.2 fd00::1 10.0.0.1\n"
	tests := []struct {
		name   string
		readme string
		want   string // in the one problem reported; empty: none
	}{
		{name: "every fact holds", readme: goOnBlackholedIPv6 + "# -> IPv4 after 302ms, fallback delay 300ms, LAYER_NONE, exit 0\n"},
		{name: "another time to connect", readme: goOnBlackholedIPv6 + "# -> IPv4 after 303ms, exit 0\n", want: "got timeToConnectMs 302, want 303"},
		{name: "another family", readme: goOnBlackholedIPv6 + "# -> IPv6 after 302ms, exit 0\n", want: "got family FAMILY_IPV4, want FAMILY_IPV6"},
		{name: "another fallback delay", readme: goOnBlackholedIPv6 + "# -> fallback delay 250ms, exit 0\n", want: "got fallbackDelayMs 300, want 250"},
		{name: "another verdict", readme: goOnBlackholedIPv6 + "# -> LAYER_CLIENT, exit 0\n", want: "got failingLayer LAYER_NONE, want LAYER_CLIENT"},
		{name: "another exit code", readme: goOnBlackholedIPv6 + "# -> exit 1\n", want: "got exit code 0, want 1"},
		{name: "no exit code", readme: goOnBlackholedIPv6 + "# -> IPv4 after 302ms\n", want: "do not say the exit code"},
		{name: "unknown fact", readme: goOnBlackholedIPv6 + "# -> IPv4 quickly, exit 0\n", want: `"IPv4 quickly" is no fact`},
		{name: "another order", readme: rfcOrder + "# -> fd00::1 before 10.0.0.1, exit 0\n", want: "want fd00::1 before 10.0.0.1"},
		{name: "another number of profiles", readme: "dsprobe profiles\n# -> 3 profiles, exit 0\n", want: "want 3"},
		{name: "another parameter", readme: "dsprobe profiles node\n# -> attempt-delay=500ms, exit 0\n", want: "got attempt-delay 250ms, want 500ms"},
		{name: "no such parameter", readme: "dsprobe profiles node\n# -> attempt-deley=250ms, exit 0\n", want: "has no parameter attempt-deley"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			examples, err := readmeExamples("```sh\n" + tt.readme + "```\n")
			if err != nil || len(examples) != 1 {
				t.Fatalf("got %d examples (%v), want 1", len(examples), err)
			}
			problems := checkExample(context.Background(), examples[0])
			switch {
			case tt.want == "" && len(problems) > 0:
				t.Errorf("got problems %q, want none", problems)
			case tt.want != "" && (len(problems) != 1 || !strings.Contains(problems[0], tt.want)):
				t.Errorf("got problems %q, want one containing %q", problems, tt.want)
			}
		})
	}
}

// TestREADMEExamplesFound checks what is taken from a README as an example,
// and that an example the test could not check is reported, not skipped.
func TestREADMEExamplesFound(t *testing.T) {
	tests := []struct {
		name   string
		readme string
		want   []string // the examples' arguments and facts
		errs   []string // in the error, one each
	}{
		{
			name:   "continued lines joined, comment dropped",
			readme: "```sh\ndsprobe order --src fd00::2 \\\n  fd00::1   # a comment\n# -> exit 0\n```\n",
			want:   []string{"order --src fd00::2 fd00::1: [exit 0]"},
		},
		{
			name:   "other blocks and commands ignored",
			readme: "```\ndsprobe order fd00::1\n```\n```json\ndsprobe order fd00::1\n```\n```sh\ndsprobe probe svc.example:80\ngo run ./cmd/dsprobe demo\n```\n",
		},
		{
			name:   "an example without its facts",
			readme: "```sh\ndsprobe profiles\ndsprobe profiles node\n# -> exit 0\ndsprobe order fd00::1\n```\n",
			want:   []string{"profiles node: [exit 0]"},
			errs:   []string{"line 2: dsprobe profiles: no", "line 5: dsprobe order fd00::1: no"},
		},
		{
			name:   "facts under no example",
			readme: "```sh\ndsprobe probe svc.example:80\n# -> exit 1\n```\n",
			errs:   []string{`line 3: "# -> exit 1" is under no example`},
		},
		{
			name:   "shell syntax",
			readme: "```sh\ndsprobe profiles -o json | jq .\n# -> exit 0\n```\n",
			errs:   []string{"line 2: dsprobe profiles -o json | jq .: shell syntax", "is under no example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			examples, err := readmeExamples(tt.readme)
			var got []string
			for _, ex := range examples {
				got = append(got, fmt.Sprintf("%s: %v", strings.Join(ex.args, " "), ex.facts))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got examples %q, want %q", got, tt.want)
			}
			if (err != nil) != (len(tt.errs) > 0) {
				t.Fatalf("got error %v, want one containing %q", err, tt.errs)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got error %v, want it to contain %q", err, want)
				}
			}
		})
	}
}
