package ladder

import "time"

// RungState is what a rung's last run came to.
type RungState string

const (
	// Pending: the rung has not run yet.
	Pending RungState = "Pending"
	// Passing: the last run held every gate; the rung is cleared once
	// it has passed its consecutive runs.
	Passing RungState = "Passing"
	// Failing: a family or a listed client failed; the failing layer and
	// reason say which, where and why.
	Failing RungState = "Failing"
	// Waiting: a lower rung did not pass, so this one did not run.
	Waiting RungState = "Waiting"
	// PublicationMismatch: the AAAA records are visible where the rung
	// expects none (published too early), or missing where it expects
	// them.
	PublicationMismatch RungState = "PublicationMismatch"
)

// LadderState sums a ladder up, for kubectl get dnsladders.
type LadderState string

const (
	// LadderPending: a rung has not run yet, and none fails.
	LadderPending LadderState = "Pending"
	// LadderPassing: every rung is cleared.
	LadderPassing LadderState = "Passing"
	// LadderSoaking: every rung passes, and some have not yet passed
	// the consecutive runs their gates require.
	LadderSoaking LadderState = "Soaking"
	// LadderFailing: a rung is failing (or waits for one that is).
	LadderFailing LadderState = "Failing"
	// LadderPublicationMismatch: a rung sees a publication that does
	// not match it.
	LadderPublicationMismatch LadderState = "PublicationMismatch"
)

// HistoryLimit is how many runs a rung's status keeps.
const HistoryLimit = 5

// Status is what the runs of a ladder found: the CRD's status, and what
// dsprobe ladder run prints. It is plain data and survives a restart when
// written back.
type Status struct {
	// State sums the rungs up.
	State LadderState `json:"state"`
	// RungsCleared counts the rungs cleared from the lowest up, without a
	// gap: a rung above one that is not cleared does not count.
	RungsCleared int `json:"rungsCleared"`
	// HighestRungCleared names the highest of them; empty when none is.
	HighestRungCleared string `json:"highestRungCleared,omitempty"`
	// LastRunTime is when the last run started.
	LastRunTime *time.Time `json:"lastRunTime,omitempty"`
	// Conditions are Cleared (every rung cleared) and PublicationMatches
	// (no rung sees a mismatch), as Kubernetes conditions.
	Conditions []Condition `json:"conditions,omitempty"`
	// Rungs has one entry per rung of the spec, in its order.
	Rungs []RungStatus `json:"rungs,omitempty"`
}

// Condition is a Kubernetes-style condition.
type Condition struct {
	// Type is Cleared or PublicationMatches.
	Type string `json:"type"`
	// Status is "True" or "False".
	Status string `json:"status"`
	// Reason is a CamelCase word: the ladder's or the rung's state.
	Reason string `json:"reason"`
	// Message says why, in a sentence.
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when Status last changed.
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// The condition types of a ladder.
const (
	ConditionCleared            = "Cleared"
	ConditionPublicationMatches = "PublicationMatches"
)

// RungStatus is one rung's state and its last runs.
type RungStatus struct {
	// Name is the rung's name.
	Name string `json:"name"`
	// State is what its last run came to.
	State RungState `json:"state"`
	// Cleared: the rung's last ConsecutivePasses runs passed, at least as
	// many as its gates require.
	Cleared bool `json:"cleared"`
	// ConsecutivePasses counts the runs in a row that passed, up to the
	// last.
	ConsecutivePasses int `json:"consecutivePasses"`
	// FailingLayer is the most fundamental layer that failed, as the
	// API's enum name (LAYER_LISTENER, ...); empty unless Failing, and
	// when no layer is to blame (a prober gave no result).
	FailingLayer string `json:"failingLayer,omitempty"`
	// Reason says in a sentence why the rung is not passing; empty when
	// it is.
	Reason string `json:"reason,omitempty"`
	// LastTransitionTime is when State last changed.
	LastTransitionTime *time.Time `json:"lastTransitionTime,omitempty"`
	// LastRuns are the rung's last runs, newest first, at most
	// HistoryLimit.
	LastRuns []RungRun `json:"lastRuns,omitempty"`
}

// RungRun is one run of a rung: its job and what every vantage point
// measured, judged.
type RungRun struct {
	// Time is when the run started.
	Time time.Time `json:"time"`
	// State, FailingLayer and Reason are the run's verdict (see
	// RungStatus); Waiting for a rung that did not run.
	State        RungState `json:"state"`
	FailingLayer string    `json:"failingLayer,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	// JobID is the coordinator's job (dsprobe job get, GetJob).
	JobID string `json:"jobId,omitempty"`
	// TraceID is the job's W3C trace ID; empty when nothing traced it.
	TraceID string `json:"traceId,omitempty"`
	// Vantages has one entry per prober the job ran on.
	Vantages []VantageRun `json:"vantages,omitempty"`
}

// VantageRun is what one prober measured of the target in a run. Enums are
// the API's names as strings (FAMILY_IPV6, LAYER_LISTENER, ...).
type VantageRun struct {
	// Prober and Namespace name the prober, the vantage point.
	Prober    string `json:"prober"`
	Namespace string `json:"namespace,omitempty"`
	// Error is why the prober gave no result ("UNAVAILABLE: ..."); the
	// fields below are then empty.
	Error string `json:"error,omitempty"`
	// A and AAAA are the resolver's answers.
	A    DNSAnswer `json:"a,omitzero"`
	AAAA DNSAnswer `json:"aaaa,omitzero"`
	// Attempted are the addresses the prober connected to, in order
	// (ip:port, [v6]:port): the attempted destinations.
	Attempted []string `json:"attempted,omitempty"`
	// ChosenFamily is the family the prober's own race connected over
	// (FAMILY_UNSPECIFIED when it connected over none).
	ChosenFamily string `json:"chosenFamily,omitempty"`
	// Families has one verdict per family probed.
	Families []FamilyVerdict `json:"families,omitempty"`
	// Clients are the predictions of the clients the rung's gates list.
	Clients []ClientRun `json:"clients,omitempty"`
}

// DNSAnswer is one query's answer.
type DNSAnswer struct {
	// Status is the API's DnsStatus name (DNS_STATUS_POSITIVE,
	// DNS_STATUS_NODATA, ...).
	Status string `json:"status,omitempty"`
	// Rcode is the deciding reply's rcode ("NOERROR", "NXDOMAIN", ...).
	Rcode string `json:"rcode,omitempty"`
	// Addresses are the records.
	Addresses []string `json:"addresses,omitempty"`
	// Server is the server that sent the deciding reply (ip:port).
	Server string `json:"server,omitempty"`
}

// FamilyVerdict is one family's verdict from one prober.
type FamilyVerdict struct {
	Family       string `json:"family"`
	OK           bool   `json:"ok"`
	FailingLayer string `json:"failingLayer,omitempty"`
	Detail       string `json:"detail,omitempty"`
}

// ClientRun is one client's predicted behaviour from one prober.
type ClientRun struct {
	Profile string `json:"profile"`
	// Family is the family the client ends up connected over
	// (FAMILY_UNSPECIFIED if it never connects).
	Family          string  `json:"family,omitempty"`
	Outcome         string  `json:"outcome,omitempty"`
	TimeToConnectMs float64 `json:"timeToConnectMs"`
	FallbackDelayMs float64 `json:"fallbackDelayMs"`
	FailingLayer    string  `json:"failingLayer,omitempty"`
}
