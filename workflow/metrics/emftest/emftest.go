// Package emftest reads the CloudWatch Embedded Metric Format documents in
// a function's log output and checks each against the specification
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)
// on its own terms, independently of package metrics, which writes them:
// tests of the handlers parse what the handler really logged.
package emftest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unitPattern is the Unit pattern of the specification's JSON schema.
var unitPattern = regexp.MustCompile(`^(Seconds|Microseconds|Milliseconds|Bytes|Kilobytes|Megabytes|Gigabytes|Terabytes|Bits|Kilobits|Megabits|Gigabits|Terabits|Percent|Count|Bytes/Second|Kilobytes/Second|Megabytes/Second|Gigabytes/Second|Terabytes/Second|Bits/Second|Kilobits/Second|Megabits/Second|Gigabits/Second|Terabits/Second|Count/Second|None)$`)

// Datum is one value CloudWatch extracts from a document: a metric under
// one of its dimension sets.
type Datum struct {
	Namespace  string
	Name       string
	Unit       string
	Value      float64
	Dimensions map[string]string
}

func (d Datum) String() string {
	keys := slices.Sorted(maps.Keys(d.Dimensions))
	var dims []string
	for _, k := range keys {
		dims = append(dims, k+"="+d.Dimensions[k])
	}
	return fmt.Sprintf("%s/%s{%s} %v %s", d.Namespace, d.Name, strings.Join(dims, ","), d.Value, d.Unit)
}

// Data returns the data of every EMF document in logs (one JSON log line
// each; lines without "_aws" are skipped), failing t on a document the
// specification rejects.
func Data(t testing.TB, logs []byte) []Datum {
	t.Helper()
	var data []Datum
	for line := range bytes.Lines(logs) {
		line = bytes.TrimSpace(line)
		if !bytes.Contains(line, []byte(`"_aws"`)) {
			continue
		}
		d, err := Parse(line)
		if err != nil {
			t.Fatalf("invalid EMF document: %v\n%s", err, line)
		}
		data = append(data, d...)
	}
	return data
}

// Parse checks one log line is a valid EMF document and returns its data.
func Parse(line []byte) ([]Datum, error) {
	if err := uniqueKeys(line); err != nil {
		return nil, err
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return nil, fmt.Errorf("not one JSON object: %w", err)
	}
	var meta struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  *string    `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name *string `json:"Name"`
				Unit *string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	dec := json.NewDecoder(bytes.NewReader(root["_aws"]))
	dec.UseNumber()
	if err := dec.Decode(&meta); err != nil {
		return nil, fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil {
		return nil, fmt.Errorf("_aws.Timestamp is missing")
	}
	if ms, err := meta.Timestamp.Int64(); err != nil || ms <= 0 {
		return nil, fmt.Errorf("_aws.Timestamp %s is not milliseconds since the epoch", *meta.Timestamp)
	}
	if len(meta.CloudWatchMetrics) == 0 {
		return nil, fmt.Errorf("_aws.CloudWatchMetrics is empty")
	}
	var data []Datum
	for i, dir := range meta.CloudWatchMetrics {
		if dir.Namespace == nil || *dir.Namespace == "" || len(*dir.Namespace) > 1024 {
			return nil, fmt.Errorf("directive %d: Namespace missing or too long", i)
		}
		if len(dir.Dimensions) == 0 {
			return nil, fmt.Errorf("directive %d: no DimensionSet", i)
		}
		if len(dir.Metrics) == 0 || len(dir.Metrics) > 100 {
			return nil, fmt.Errorf("directive %d: %d MetricDefinitions, want 1 to 100", i, len(dir.Metrics))
		}
		var sets []map[string]string
		for _, set := range dir.Dimensions {
			if len(set) > 30 {
				return nil, fmt.Errorf("directive %d: DimensionSet of %d keys", i, len(set))
			}
			dims := map[string]string{}
			for _, key := range set {
				var v string
				if err := json.Unmarshal(root[key], &v); err != nil {
					return nil, fmt.Errorf("dimension %q: the root has no string member of that name", key)
				}
				if v == "" || len(v) > 1024 {
					return nil, fmt.Errorf("dimension %q: value %q is not 1 to 1024 characters", key, v)
				}
				dims[key] = v
			}
			sets = append(sets, dims)
		}
		for _, m := range dir.Metrics {
			if m.Name == nil || *m.Name == "" {
				return nil, fmt.Errorf("directive %d: a MetricDefinition has no Name", i)
			}
			unit := "None"
			if m.Unit != nil {
				unit = *m.Unit
			}
			if !unitPattern.MatchString(unit) {
				return nil, fmt.Errorf("metric %s: unit %q is not a CloudWatch unit", *m.Name, unit)
			}
			var v float64
			if err := json.Unmarshal(root[*m.Name], &v); err != nil {
				return nil, fmt.Errorf("metric %s: the root has no numeric member of that name", *m.Name)
			}
			for _, dims := range sets {
				data = append(data, Datum{Namespace: *dir.Namespace, Name: *m.Name, Unit: unit, Value: v, Dimensions: dims})
			}
		}
	}
	return data, nil
}

// uniqueKeys fails a root object with a member twice: which value
// CloudWatch would take is anyone's guess.
func uniqueKeys(line []byte) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string)
		if seen[key] {
			return fmt.Errorf("member %q appears twice", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the object")
	}
	return nil
}

// Find returns the data named name.
func Find(data []Datum, name string) []Datum {
	var out []Datum
	for _, d := range data {
		if d.Name == name {
			out = append(out, d)
		}
	}
	return out
}
