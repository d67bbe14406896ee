package stack

import (
	"bytes"
	"strings"
	"testing"
)

// completed is a line as CompleteLifecycle writes it under Lambda's JSON
// log format: the EMF document among slog's own members.
const completed = `{"timestamp":"2026-11-20T08:17:17Z","level":"INFO","message":"metrics","execution":"e1","instanceId":"i-0a1b2c3d4e5f60718","asg":"web","_aws":{"Timestamp":1795162637000,"CloudWatchMetrics":[{"Namespace":"asgdns","Dimensions":[["AutoScalingGroupName","Outcome"],["Outcome"]],"Metrics":[{"Name":"Completed","Unit":"Count"}]},{"Namespace":"asgdns","Dimensions":[["AutoScalingGroupName"],[]],"Metrics":[{"Name":"Failures","Unit":"Count"},{"Name":"CompletionSeconds","Unit":"Seconds"}]}]},"AutoScalingGroupName":"web","Outcome":"%s","Completed":1,"Failures":%s,"CompletionSeconds":%s,"requestId":"r1"}`

// TestMetrics: the functions' log lines pass through untouched, and their
// EMF documents add up per metric and dimensions, per account and
// function, as CloudWatch would publish them; other lines, and what
// CloudWatch would reject, are left out.
func TestMetrics(t *testing.T) {
	fill := func(outcome, failures, seconds string) string {
		s := strings.Replace(completed, "%s", outcome, 1)
		s = strings.Replace(s, "%s", failures, 1)
		return strings.Replace(s, "%s", seconds, 1) + "\n"
	}
	var m metricsLog
	var passed bytes.Buffer
	complete := m.writer(AppAccount, "CompleteLifecycleFunction", &passed)
	other := m.writer(OtherAppAccount, "CompleteLifecycleFunction", nil)
	send := m.writer(AppAccount, "SendCommandFunction", nil)

	input := fill("registered", "0", "20") +
		`{"level":"INFO","msg":"lifecycle action completed"}` + "\n" +
		"not JSON at all, with \"_aws\" in it\n" +
		fill("registered", "0", "40") +
		fill("failed-Unavailable", "1", "1800") +
		// A value CloudWatch would not take: left out.
		strings.Replace(fill("registered", "0", "5"), `"CompletionSeconds":5`, `"CompletionSeconds":"5"`, 1)
	// Written in pieces that split lines, as a pipe delivers them.
	for len(input) > 0 {
		n := min(37, len(input))
		if _, err := complete.Write([]byte(input[:n])); err != nil {
			t.Fatal(err)
		}
		input = input[n:]
	}
	if _, err := other.Write([]byte(fill("deregistered", "0", "3"))); err != nil {
		t.Fatal(err)
	}
	if _, err := send.Write([]byte(`{"msg":"metrics","_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"asgdns","Dimensions":[["DC"]],"Metrics":[{"Name":"CommandsSent","Unit":"Count"}]}]},"DC":"i-0123456789abcdef0","CommandsSent":[1,1]}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(passed.String(), `"message":"metrics"`) || strings.Count(passed.String(), "\n") != 6 {
		t.Errorf("lines not passed on whole:\n%s", passed.String())
	}

	var got []string
	for _, s := range m.summaries() {
		got = append(got, s.Account+" "+s.Function+" "+s.String())
	}
	want := []string{
		AppAccount + " SendCommandFunction asgdns/CommandsSent{DC=i-0123456789abcdef0} n=2 sum=2 min=1 max=1 Count",
		AppAccount + " CompleteLifecycleFunction asgdns/Completed{AutoScalingGroupName=web,Outcome=failed-Unavailable} n=1 sum=1 min=1 max=1 Count",
		AppAccount + " CompleteLifecycleFunction asgdns/Completed{AutoScalingGroupName=web,Outcome=registered} n=3 sum=3 min=1 max=1 Count",
		AppAccount + " CompleteLifecycleFunction asgdns/Completed{Outcome=failed-Unavailable} n=1 sum=1 min=1 max=1 Count",
		AppAccount + " CompleteLifecycleFunction asgdns/Completed{Outcome=registered} n=3 sum=3 min=1 max=1 Count",
		AppAccount + " CompleteLifecycleFunction asgdns/CompletionSeconds{} n=3 sum=1860 min=20 max=1800 Seconds",
		AppAccount + " CompleteLifecycleFunction asgdns/CompletionSeconds{AutoScalingGroupName=web} n=3 sum=1860 min=20 max=1800 Seconds",
		AppAccount + " CompleteLifecycleFunction asgdns/Failures{} n=4 sum=1 min=0 max=1 Count",
		AppAccount + " CompleteLifecycleFunction asgdns/Failures{AutoScalingGroupName=web} n=4 sum=1 min=0 max=1 Count",
		OtherAppAccount + " CompleteLifecycleFunction asgdns/Completed{AutoScalingGroupName=web,Outcome=deregistered} n=1 sum=1 min=1 max=1 Count",
		OtherAppAccount + " CompleteLifecycleFunction asgdns/Completed{Outcome=deregistered} n=1 sum=1 min=1 max=1 Count",
		OtherAppAccount + " CompleteLifecycleFunction asgdns/CompletionSeconds{} n=1 sum=3 min=3 max=3 Seconds",
		OtherAppAccount + " CompleteLifecycleFunction asgdns/CompletionSeconds{AutoScalingGroupName=web} n=1 sum=3 min=3 max=3 Seconds",
		OtherAppAccount + " CompleteLifecycleFunction asgdns/Failures{} n=1 sum=0 min=0 max=0 Count",
		OtherAppAccount + " CompleteLifecycleFunction asgdns/Failures{AutoScalingGroupName=web} n=1 sum=0 min=0 max=0 Count",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
