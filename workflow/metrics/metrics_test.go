package metrics_test

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/asgdns/asgdns/workflow/metrics"
	"github.com/asgdns/asgdns/workflow/metrics/emftest"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func asg(name string) []metrics.Dimension {
	return []metrics.Dimension{{Name: "AutoScalingGroupName", Value: name}}
}

// TestEmit writes documents through the loggers the functions use (slog's
// JSON handler, and Lambda's, which renames time and msg and adds the
// request id) and reads them back as CloudWatch would.
func TestEmit(t *testing.T) {
	doc := metrics.Document{Time: at,
		Dimensions: []metrics.Dimension{{Name: "AutoScalingGroupName", Value: "web-prod"}, {Name: "Outcome", Value: "registered"}},
		Sets: []metrics.Set{
			{Dimensions: [][]string{{"AutoScalingGroupName", "Outcome"}}, Metrics: []metrics.Metric{{Name: "Completed", Unit: metrics.Count, Value: 1}}},
			{Dimensions: [][]string{{"AutoScalingGroupName"}, {}}, Metrics: []metrics.Metric{{Name: "CompletionSeconds", Unit: metrics.Seconds, Value: 12.5}}},
		}}
	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"slog JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"lambda": func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{ReplaceAttr: lambdacontext.ReplaceAttr})
		},
	}
	for name, handler := range handlers {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(handler(&buf)).With(slog.String("execution", "e1"), slog.String("instanceId", "i-0a1b2c3d4e5f60718"))
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
			if err := metrics.Emit(ctx, log, doc); err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(buf.String(), "\n"); n != 1 {
				t.Fatalf("%d lines, want one:\n%s", n, buf.String())
			}
			if !strings.Contains(buf.String(), `"Timestamp":1772366400000`) {
				t.Errorf("timestamp is not the document's time in ms:\n%s", buf.String())
			}
			got := map[string]emftest.Datum{}
			for _, d := range emftest.Data(t, buf.Bytes()) {
				got[d.String()] = d
			}
			for _, want := range []string{
				"asgdns/Completed{AutoScalingGroupName=web-prod,Outcome=registered} 1 Count",
				"asgdns/CompletionSeconds{AutoScalingGroupName=web-prod} 12.5 Seconds",
				"asgdns/CompletionSeconds{} 12.5 Seconds",
			} {
				if _, ok := got[want]; !ok {
					t.Errorf("missing %s; got %v", want, got)
				}
			}
			if len(got) != 3 {
				t.Errorf("%d data, want 3: %v", len(got), got)
			}
		})
	}
}

// TestValidate: what the specification (or CloudWatch) would reject is
// refused before it reaches the log.
func TestValidate(t *testing.T) {
	count := func(name string) metrics.Metric { return metrics.Metric{Name: name, Unit: metrics.Count, Value: 1} }
	many := func(n int, f func(i int) string) []string {
		var out []string
		for i := range n {
			out = append(out, f(i))
		}
		return out
	}
	var dims31 []metrics.Dimension
	for _, n := range many(31, func(i int) string { return "D" + string(rune('A'+i%26)) + string(rune('a'+i/26)) }) {
		dims31 = append(dims31, metrics.Dimension{Name: n, Value: "v"})
	}
	names31 := many(31, func(i int) string { return dims31[i].Name })
	var metrics101 []metrics.Metric
	for i := range 101 {
		metrics101 = append(metrics101, count("M"+strings.Repeat("x", i)))
	}
	cases := []struct {
		name string
		doc  metrics.Document
		err  string // "" valid
	}{
		{"valid", metrics.Document{Dimensions: asg("web"), Sets: []metrics.Set{{Dimensions: [][]string{{"AutoScalingGroupName"}}, Metrics: []metrics.Metric{count("A")}}}}, ""},
		{"no dimensions", metrics.Document{Sets: []metrics.Set{{Dimensions: [][]string{{}}, Metrics: []metrics.Metric{count("A")}}}}, ""},
		{"no metrics", metrics.Document{}, "no metrics"},
		{"no dimension set", metrics.Document{Sets: []metrics.Set{{Metrics: []metrics.Metric{count("A")}}}}, "no dimension set"},
		{"unknown dimension", metrics.Document{Sets: []metrics.Set{{Dimensions: [][]string{{"Outcome"}}, Metrics: []metrics.Metric{count("A")}}}}, "has no value"},
		{"empty dimension value", metrics.Document{Dimensions: asg(""), Sets: []metrics.Set{{Dimensions: [][]string{{"AutoScalingGroupName"}}, Metrics: []metrics.Metric{count("A")}}}}, "value"},
		{"non-ASCII dimension value", metrics.Document{Dimensions: asg("wéb"), Sets: []metrics.Set{{Dimensions: [][]string{{"AutoScalingGroupName"}}, Metrics: []metrics.Metric{count("A")}}}}, "printable ASCII"},
		{"long dimension value", metrics.Document{Dimensions: asg(strings.Repeat("a", 1025)), Sets: []metrics.Set{{Dimensions: [][]string{{"AutoScalingGroupName"}}, Metrics: []metrics.Metric{count("A")}}}}, "1 to 1024"},
		{"31 dimensions", metrics.Document{Dimensions: dims31, Sets: []metrics.Set{{Dimensions: [][]string{names31}, Metrics: []metrics.Metric{count("A")}}}}, "at most 30"},
		{"101 metrics", metrics.Document{Sets: []metrics.Set{{Dimensions: [][]string{{}}, Metrics: metrics101}}}, "1 to 100"},
		{"bad unit", metrics.Document{Sets: []metrics.Set{{Dimensions: [][]string{{}}, Metrics: []metrics.Metric{{Name: "A", Unit: "seconds", Value: 1}}}}}, "not a CloudWatch unit"},
		{"NaN", metrics.Document{Sets: []metrics.Set{{Dimensions: [][]string{{}}, Metrics: []metrics.Metric{{Name: "A", Unit: metrics.Count, Value: math.NaN()}}}}}, "not a number"},
		{"metric named like a dimension", metrics.Document{Dimensions: asg("web"), Sets: []metrics.Set{{Dimensions: [][]string{{}}, Metrics: []metrics.Metric{count("AutoScalingGroupName")}}}}, "twice"},
		{"metric named like slog's key", metrics.Document{Sets: []metrics.Set{{Dimensions: [][]string{{}}, Metrics: []metrics.Metric{count("msg")}}}}, "already"},
		{"metric named like Lambda's key", metrics.Document{Sets: []metrics.Set{{Dimensions: [][]string{{}}, Metrics: []metrics.Metric{count("requestId")}}}}, "already"},
		{"metric twice", metrics.Document{Sets: []metrics.Set{{Dimensions: [][]string{{}}, Metrics: []metrics.Metric{count("A")}}, {Dimensions: [][]string{{}}, Metrics: []metrics.Metric{count("A")}}}}, "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := metrics.Emit(context.Background(), slog.New(slog.NewJSONHandler(&buf, nil)), tc.doc)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(emftest.Data(t, buf.Bytes())) == 0 {
					t.Error("no data written")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one saying %q", err, tc.err)
			}
			if buf.Len() != 0 {
				t.Errorf("an invalid document was written: %s", buf.String())
			}
		})
	}
}

// TestValidatorRejects: the test validator is not a rubber stamp.
func TestValidatorRejects(t *testing.T) {
	for name, line := range map[string]string{
		"not JSON":          `metrics`,
		"no timestamp":      `{"_aws":{"CloudWatchMetrics":[{"Namespace":"asgdns","Dimensions":[[]],"Metrics":[{"Name":"A"}]}]},"A":1}`,
		"missing dimension": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"asgdns","Dimensions":[["D"]],"Metrics":[{"Name":"A"}]}]},"A":1}`,
		"numeric dimension": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"asgdns","Dimensions":[["D"]],"Metrics":[{"Name":"A"}]}]},"A":1,"D":2}`,
		"string value":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"asgdns","Dimensions":[[]],"Metrics":[{"Name":"A"}]}]},"A":"1"}`,
		"bad unit":          `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"asgdns","Dimensions":[[]],"Metrics":[{"Name":"A","Unit":"Hours"}]}]},"A":1}`,
		"duplicate member":  `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"asgdns","Dimensions":[[]],"Metrics":[{"Name":"A"}]}]},"A":1,"A":2}`,
		"no namespace":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"A"}]}]},"A":1}`,
	} {
		if _, err := emftest.Parse([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
}
