package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	he "github.com/dsprobe/dsprobe/internal/happyeyeballs"
	"github.com/dsprobe/dsprobe/internal/probe"
)

// The JSON here has the shape of the API's protojson (lowerCamelCase keys,
// enums by their proto names, durations as numbers of milliseconds), so
// scripts written against dsprobe simulate read clients[] entries of
// dsprobe probe unchanged.

type clientJSON struct {
	Profile         string        `json:"profile"`
	Family          string        `json:"family"`
	Address         string        `json:"address"`
	Outcome         string        `json:"outcome"`
	TimeToConnectMs float64       `json:"timeToConnectMs"`
	FallbackDelayMs float64       `json:"fallbackDelayMs"`
	FailingLayer    string        `json:"failingLayer"`
	Attempts        []attemptJSON `json:"attempts"`
}

type attemptJSON struct {
	Address    string  `json:"address"`
	Family     string  `json:"family"`
	Outcome    string  `json:"outcome"`
	StartMs    float64 `json:"startMs"`
	DurationMs float64 `json:"durationMs"`
	Error      string  `json:"error,omitempty"`
}

func clientJSONOf(p probe.Prediction) clientJSON {
	c := clientJSON{
		Profile:         p.Profile,
		Family:          familyEnum(p.Family),
		Outcome:         outcomeEnum(p.Outcome),
		TimeToConnectMs: millis(p.TimeToConnect),
		FallbackDelayMs: millis(p.FallbackDelay),
		FailingLayer:    p.FailingLayer.String(),
		Attempts:        []attemptJSON{},
	}
	if p.Address.IsValid() {
		c.Address = p.Address.String()
	}
	for _, a := range p.Attempts {
		aj := attemptJSON{
			Address:    a.Address.String(),
			Family:     familyEnum(a.Family),
			Outcome:    outcomeEnum(a.Outcome),
			StartMs:    millis(a.Start),
			DurationMs: millis(a.End - a.Start),
		}
		if a.Err != nil {
			aj.Error = a.Err.Error()
		}
		c.Attempts = append(c.Attempts, aj)
	}
	return c
}

func familyEnum(f he.Family) string {
	switch f {
	case he.FamilyIPv4:
		return "FAMILY_IPV4"
	case he.FamilyIPv6:
		return "FAMILY_IPV6"
	}
	return "FAMILY_UNSPECIFIED"
}

func outcomeEnum(o he.Outcome) string {
	return "OUTCOME_" + strings.ToUpper(o.String())
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
