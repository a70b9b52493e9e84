package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// JSON output is protojson of the API messages (lowerCamelCase keys, enums
// by name, durations as numbers of milliseconds), so a script reads the
// same shape from dsprobe simulate, dsprobe probe, the prober and the
// coordinator's REST API. Zero values are written out ("ok": false,
// "fallbackDelayMs": 0) so scripts need no defaults.
var protoJSON = protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitDefaultValues: true}

func writeProto(w io.Writer, m proto.Message) error {
	b, err := protoJSON.Marshal(m)
	if err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeJSON writes the outputs that have no API message (order, profiles,
// version).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}
