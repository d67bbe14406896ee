// Package metrics writes CloudWatch metrics in the Embedded Metric Format
// (EMF) through a function's own JSON log: one log line per document, which
// CloudWatch Logs turns into metrics. No API call, no extra permission.
//
// The format is
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html:
// a log event that is one JSON object with an "_aws" member (Timestamp in
// milliseconds since the epoch, and CloudWatchMetrics: directives naming
// the namespace, the dimension sets and each metric's name and unit), and
// the metric values and dimension values as members of the root object.
// Members the directives do not reference are allowed and ignored for
// metrics, so slog's own keys (time, level, msg, Lambda's requestId) and
// the logger's attributes (execution, instanceId, asg) stay on the line and
// make the metric searchable in Logs Insights.
//
// Lambda keeps the line as the function wrote it: with LogFormat JSON,
// "Lambda doesn't double-encode any logs that are already JSON encoded"
// (Lambda Developer Guide, "Configuring JSON and plain text log formats",
// https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html),
// and lambdacontext.NewLogger writes JSON only when AWS_LAMBDA_LOG_FORMAT is
// JSON: the template sets LogFormat JSON, and ApplicationLogLevel must let
// INFO through, or the metrics go with the lines.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"
)

// Namespace is asgdns's CloudWatch namespace.
const Namespace = "asgdns"

// Message is the msg of a metrics log line.
const Message = "metrics"

// Limits of the specification (and of CloudWatch's PutMetricData, which
// EMF feeds).
const (
	MaxMetrics       = 100 // MetricDefinitions per MetricDirective
	MaxDimensions    = 30  // dimension keys per DimensionSet
	maxNameLen       = 250 // metric and dimension names (the spec's schema)
	maxDimensionLen  = 1024
	dimensionNameBad = ':' // a dimension name may not start with it
)

// Unit is a CloudWatch unit.
type Unit string

// The units asgdns uses; Units lists all CloudWatch accepts.
const (
	Seconds Unit = "Seconds"
	Count   Unit = "Count"
	None    Unit = "None"
)

// Units are the units CloudWatch accepts (MetricDatum.Unit).
var Units = []Unit{
	"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}

// Dimension is a dimension's name and value.
type Dimension struct{ Name, Value string }

// Metric is one value of a metric.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Set is metrics published under the same dimension sets.
type Set struct {
	// Dimensions are the dimension sets, each a list of names of the
	// Document's Dimensions; an empty set publishes the metrics without
	// dimensions (the aggregate over all of them).
	Dimensions [][]string
	Metrics    []Metric
}

// Document is one EMF document: the dimension values, shared by all its
// sets, and the metrics.
type Document struct {
	// Time is the metrics' timestamp; now when zero.
	Time       time.Time
	Dimensions []Dimension
	Sets       []Set
}

// reserved are the members slog and Lambda's handler write themselves:
// a dimension or metric of that name would be a duplicate key.
var reserved = []string{"_aws", slog.TimeKey, slog.LevelKey, slog.MessageKey, slog.SourceKey, "timestamp", "message", "requestId"}

// Validate checks d against the specification's limits: every name
// referenced is a member of the document exactly once, the units are
// CloudWatch's, the values finite numbers.
func (d Document) Validate() error {
	if len(d.Sets) == 0 {
		return errors.New("metrics: no metrics")
	}
	members := map[string]bool{}
	member := func(kind, name string) error {
		switch {
		case name == "" || len(name) > maxNameLen:
			return fmt.Errorf("metrics: %s name %q is not 1 to %d characters", kind, name, maxNameLen)
		case slices.Contains(reserved, name):
			return fmt.Errorf("metrics: %s name %q is a key the log line has already", kind, name)
		case members[name]:
			return fmt.Errorf("metrics: %q appears twice", name)
		}
		members[name] = true
		return nil
	}
	dims := map[string]bool{}
	for _, dim := range d.Dimensions {
		if err := member("dimension", dim.Name); err != nil {
			return err
		}
		if !printableASCII(dim.Name) || dim.Name[0] == dimensionNameBad {
			return fmt.Errorf("metrics: dimension name %q is not printable ASCII or starts with ':'", dim.Name)
		}
		if dim.Value == "" || len(dim.Value) > maxDimensionLen || !printableASCII(dim.Value) || allSpace(dim.Value) {
			return fmt.Errorf("metrics: dimension %s value %q is not 1 to %d printable ASCII characters", dim.Name, dim.Value, maxDimensionLen)
		}
		dims[dim.Name] = true
	}
	for _, s := range d.Sets {
		if len(s.Dimensions) == 0 {
			return errors.New("metrics: a set has no dimension set")
		}
		if len(s.Metrics) == 0 || len(s.Metrics) > MaxMetrics {
			return fmt.Errorf("metrics: %d metrics in a set, want 1 to %d", len(s.Metrics), MaxMetrics)
		}
		for _, set := range s.Dimensions {
			if len(set) > MaxDimensions {
				return fmt.Errorf("metrics: %d dimensions in a dimension set, at most %d", len(set), MaxDimensions)
			}
			for _, name := range set {
				if !dims[name] {
					return fmt.Errorf("metrics: dimension set names %q, which has no value", name)
				}
			}
		}
		for _, m := range s.Metrics {
			if err := member("metric", m.Name); err != nil {
				return err
			}
			if !slices.Contains(Units, m.Unit) {
				return fmt.Errorf("metrics: %s has unit %q, not a CloudWatch unit", m.Name, m.Unit)
			}
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
				return fmt.Errorf("metrics: %s is %v, not a number", m.Name, m.Value)
			}
		}
	}
	return nil
}

// directive is a MetricDirective as the specification spells it.
type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

type definition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}

// metadata is the "_aws" member.
type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// Attrs are the members d adds to a log line: "_aws", then the dimension
// values, then the metric values.
func (d Document) Attrs() []slog.Attr {
	t := d.Time
	if t.IsZero() {
		t = time.Now()
	}
	meta := metadata{Timestamp: t.UnixMilli()}
	attrs := []slog.Attr{{}} // "_aws", filled in below
	for _, dim := range d.Dimensions {
		attrs = append(attrs, slog.String(dim.Name, dim.Value))
	}
	for _, s := range d.Sets {
		dir := directive{Namespace: Namespace}
		for _, set := range s.Dimensions {
			dir.Dimensions = append(dir.Dimensions, append([]string{}, set...)) // [], never null
		}
		for _, m := range s.Metrics {
			dir.Metrics = append(dir.Metrics, definition{Name: m.Name, Unit: m.Unit})
			attrs = append(attrs, slog.Float64(m.Name, m.Value))
		}
		meta.CloudWatchMetrics = append(meta.CloudWatchMetrics, dir)
	}
	attrs[0] = slog.Any("_aws", meta)
	return attrs
}

// Emit validates d and writes it as one Info line of log. The logger must
// write JSON with no group open (lambdacontext.NewLogger with LogFormat
// JSON, or slog.NewJSONHandler), and its attributes must not reuse the
// document's names. A document that fails validation is not written: the
// error says why, for the caller to log; metrics never fail a step.
func Emit(ctx context.Context, log *slog.Logger, d Document) error {
	if err := d.Validate(); err != nil {
		return err
	}
	log.LogAttrs(ctx, slog.LevelInfo, Message, d.Attrs()...)
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func allSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			return false
		}
	}
	return true
}
