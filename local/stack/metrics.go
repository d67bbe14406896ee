package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
)

// MetricSummary is what CloudWatch would make of the functions' metrics:
// one metric under one set of dimensions (as the Embedded Metric Format
// documents in their logs declare them), aggregated over the stack's
// life.
type MetricSummary struct {
	// Account and Function are whose log the documents were in.
	Account, Function string
	Namespace, Name   string
	Unit              string
	// Dimensions are the dimension names and values; empty for the
	// aggregate over all of them.
	Dimensions map[string]string
	// Count is the number of values; Sum, Min and Max their statistics.
	Count         int
	Sum, Min, Max float64
}

// String is one line of a demo's report: "asgdns/Completed{AutoScalingGroupName=web,Outcome=registered} n=3 sum=3 min=1 max=1 Count".
func (m MetricSummary) String() string {
	return fmt.Sprintf("%s/%s{%s} n=%d sum=%g min=%g max=%g %s", m.Namespace, m.Name, dimensionKey(m.Dimensions), m.Count, m.Sum, m.Min, m.Max, m.Unit)
}

// Metrics returns the metrics the functions have written so far, sorted
// by account, namespace, name and dimensions.
func (s *Stack) Metrics() []MetricSummary { return s.metrics.summaries() }

// metricsLog aggregates the EMF documents of the functions' log lines. The
// zero value is ready to use.
type metricsLog struct {
	mu    sync.Mutex
	byKey map[string]*MetricSummary
}

// writer returns the Logs writer of one function: it passes everything on
// to next (discarded when nil) and reads each whole line for metrics.
func (m *metricsLog) writer(account, function string, next io.Writer) io.Writer {
	if next == nil {
		next = io.Discard
	}
	return &metricsTee{log: m, account: account, function: function, next: next}
}

type metricsTee struct {
	log               *metricsLog
	account, function string
	next              io.Writer

	mu      sync.Mutex
	partial []byte
}

func (t *metricsTee) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.log.read(t.account, t.function, t.partial[:i])
		t.partial = t.partial[i+1:]
	}
	t.partial = slices.Clip(t.partial)
	t.mu.Unlock()
	return t.next.Write(p)
}

// emfDocument is the part of an EMF document the summary needs
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
type emfDocument struct {
	AWS struct {
		CloudWatchMetrics []struct {
			Namespace  string     `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name string `json:"Name"`
				Unit string `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	} `json:"_aws"`
}

// read adds the values of one log line, if it is an EMF document. What
// CloudWatch would reject (a missing member, a value of the wrong type) is
// left out, as CloudWatch leaves it out.
func (m *metricsLog) read(account, function string, line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || !bytes.Contains(line, []byte(`"_aws"`)) {
		return
	}
	var doc emfDocument
	var root map[string]json.RawMessage
	if json.Unmarshal(line, &doc) != nil || json.Unmarshal(line, &root) != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, dir := range doc.AWS.CloudWatchMetrics {
		for _, set := range dir.Dimensions {
			dims, ok := map[string]string{}, true
			for _, name := range set {
				var v string
				ok = ok && json.Unmarshal(root[name], &v) == nil
				dims[name] = v
			}
			if !ok {
				continue
			}
			for _, def := range dir.Metrics {
				values, ok := numbers(root[def.Name])
				if !ok {
					continue
				}
				unit := def.Unit
				if unit == "" {
					unit = "None"
				}
				key := strings.Join([]string{account, function, dir.Namespace, def.Name, unit, dimensionKey(dims)}, "\x00")
				sum := m.byKey[key]
				if sum == nil {
					if m.byKey == nil {
						m.byKey = map[string]*MetricSummary{}
					}
					sum = &MetricSummary{Account: account, Function: function, Namespace: dir.Namespace, Name: def.Name, Unit: unit,
						Dimensions: maps.Clone(dims), Min: values[0], Max: values[0]}
					m.byKey[key] = sum
				}
				for _, v := range values {
					sum.Count++
					sum.Sum += v
					sum.Min, sum.Max = min(sum.Min, v), max(sum.Max, v)
				}
			}
		}
	}
}

// numbers reads a metric member: a number, or an array of numbers.
func numbers(raw json.RawMessage) ([]float64, bool) {
	var v float64
	if json.Unmarshal(raw, &v) == nil {
		return []float64{v}, true
	}
	var vs []float64
	if json.Unmarshal(raw, &vs) == nil && len(vs) > 0 {
		return vs, true
	}
	return nil, false
}

func (m *metricsLog) summaries() []MetricSummary {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MetricSummary, 0, len(m.byKey))
	for _, s := range m.byKey {
		c := *s
		c.Dimensions = maps.Clone(s.Dimensions)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return strings.Join([]string{a.Account, a.Namespace, a.Name, dimensionKey(a.Dimensions), a.Function}, "\x00") <
			strings.Join([]string{b.Account, b.Namespace, b.Name, dimensionKey(b.Dimensions), b.Function}, "\x00")
	})
	return out
}

// dimensionKey is "name=value,…" in name order.
func dimensionKey(dims map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(dims)) {
		parts = append(parts, k+"="+dims[k])
	}
	return strings.Join(parts, ",")
}
