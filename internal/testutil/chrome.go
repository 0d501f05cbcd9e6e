package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// ChromeEvent is one entry of a Chrome trace file's traceEvents.
type ChromeEvent struct {
	Ph   string         `json:"ph"`
	Name string         `json:"name"`
	Cat  string         `json:"cat"`
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	S    string         `json:"s"`
	Args map[string]any `json:"args"`
}

// ChromeTrace is a parsed Chrome trace file in its object form.
type ChromeTrace struct {
	DisplayTimeUnit string         `json:"displayTimeUnit"`
	TraceEvents     []ChromeEvent  `json:"traceEvents"`
	OtherData       map[string]any `json:"otherData"`
}

// chromeEventKeys are the members each phase may have, after the trace
// event format's specification (the phases ebtrace writes): complete
// events need ts and dur, instants ts and a scope, metadata a name and
// args.name.
var chromeEventKeys = map[string]struct{ required, optional []string }{
	"X": {[]string{"ph", "name", "ts", "dur", "pid", "tid"}, []string{"cat", "args"}},
	"i": {[]string{"ph", "name", "ts", "pid", "tid"}, []string{"cat", "args", "s"}},
	"M": {[]string{"ph", "name", "pid", "args"}, []string{"tid"}},
}

// ValidateChromeTrace parses data as a Chrome trace-event file (the JSON
// object form Perfetto's UI and chrome://tracing open) and checks every
// event against the format's schema: the members its phase requires, no
// others, each of its type. It returns the parsed trace.
func ValidateChromeTrace(data []byte) (*ChromeTrace, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	for key := range top {
		if !slices.Contains([]string{"traceEvents", "displayTimeUnit", "otherData"}, key) {
			return nil, fmt.Errorf("unknown top-level member %q", key)
		}
	}
	var raws []map[string]json.RawMessage
	if err := json.Unmarshal(top["traceEvents"], &raws); err != nil || raws == nil {
		return nil, fmt.Errorf("traceEvents is not an array of objects: %v", err)
	}
	for i, ev := range raws {
		if err := validateChromeEvent(ev); err != nil {
			return nil, fmt.Errorf("traceEvents[%d]: %w", i, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var trace ChromeTrace
	if err := dec.Decode(&trace); err != nil {
		return nil, err
	}
	if u := trace.DisplayTimeUnit; u != "" && u != "ms" && u != "ns" {
		return nil, fmt.Errorf("displayTimeUnit %q: want ms or ns", u)
	}
	return &trace, nil
}

func validateChromeEvent(ev map[string]json.RawMessage) error {
	var ph string
	if err := json.Unmarshal(ev["ph"], &ph); err != nil {
		return fmt.Errorf("ph is not a string")
	}
	keys, ok := chromeEventKeys[ph]
	if !ok {
		return fmt.Errorf("phase %q is not one ebtrace writes", ph)
	}
	for _, k := range keys.required {
		if _, ok := ev[k]; !ok {
			return fmt.Errorf("phase %s without %q", ph, k)
		}
	}
	for k := range ev {
		if !slices.Contains(keys.required, k) && !slices.Contains(keys.optional, k) {
			return fmt.Errorf("phase %s with unexpected member %q", ph, k)
		}
	}
	for k, v := range ev {
		var err error
		switch k {
		case "ph", "name", "cat", "s":
			var s string
			err = json.Unmarshal(v, &s)
			if err == nil && k == "s" && s != "g" && s != "p" && s != "t" {
				err = fmt.Errorf("scope %q: want g, p or t", s)
			}
		case "ts", "dur":
			var f float64
			err = json.Unmarshal(v, &f)
			if err == nil && f < 0 {
				err = fmt.Errorf("negative")
			}
		case "pid", "tid":
			var n int64
			err = json.Unmarshal(v, &n)
		case "args":
			var m map[string]json.RawMessage
			err = json.Unmarshal(v, &m)
			if err == nil && m == nil {
				err = fmt.Errorf("null")
			}
			if err == nil && ph == "M" {
				var name string
				err = json.Unmarshal(m["name"], &name)
			}
		}
		if err != nil {
			return fmt.Errorf("member %q: %v", k, err)
		}
	}
	return nil
}
