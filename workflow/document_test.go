package workflow_test

import (
	"testing"

	"github.com/asgdns/asgdns/workflow"
)

func instance(ip, host string) *workflow.InstanceResult {
	return &workflow.InstanceResult{
		InstanceID: "i-0a1b2c3d4e5f60718", PrivateIP: ip,
		Record: &workflow.Record{Hostname: host, Zone: "corp.example.com", FQDN: host + ".corp.example.com", TTL: 300, PTR: true},
	}
}

func TestDocumentParameters(t *testing.T) {
	got, err := workflow.DocumentParameters(workflow.ActionRegister, instance("10.0.0.5", "web-1"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"action": "register", "hostname": "web-1", "zone": "corp.example.com", "ipv4Address": "10.0.0.5",
		"ownerInstanceId": "i-0a1b2c3d4e5f60718", "ttl": "300", "ptr": "true"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("%s = %v, want %s", k, got[k], v)
		}
	}
	if _, err := workflow.DocumentParameters(workflow.ActionDeregister, instance("", "web-1")); err != nil {
		t.Errorf("deregister without an address: %v", err)
	}
	bad := []struct {
		action workflow.Action
		inst   *workflow.InstanceResult
		want   string
	}{
		{workflow.ActionRegister, nil, "InvalidEvent"},
		{workflow.ActionRegister, instance("", "web-1"), "InvalidEvent"},
		{workflow.ActionRegister, instance("10.0.0.256", "web-1"), "InvalidEvent"},
		{workflow.ActionRegister, instance("::1", "web-1"), "InvalidEvent"},
		{workflow.ActionRegister, instance("10.0.0.5", "web;reboot"), "InvalidHostname"},
		{workflow.ActionRegister, instance("10.0.0.5", "web\n1"), "InvalidHostname"},
		{workflow.ActionNone, instance("10.0.0.5", "web-1"), "InvalidEvent"},
		// The document's patterns take "" for hostname and ownerInstanceId
		// (list's defaults); a record never does.
		{workflow.ActionRegister, instance("10.0.0.5", ""), "InvalidHostname"},
		{workflow.ActionDeregister, instance("", ""), "InvalidHostname"},
		{workflow.ActionRegister, func() *workflow.InstanceResult { i := instance("10.0.0.5", "web-1"); i.InstanceID = ""; return i }(), "InvalidEvent"},
		{workflow.ActionDeregister, func() *workflow.InstanceResult { i := instance("", "web-1"); i.InstanceID = ""; return i }(), "InvalidEvent"},
	}
	for _, tc := range bad {
		if _, err := workflow.DocumentParameters(tc.action, tc.inst); workflow.Routed(err) != tc.want {
			t.Errorf("%s %+v: got %v, want %s", tc.action, tc.inst, err, tc.want)
		}
	}
}

func TestParseOutcome(t *testing.T) {
	out := "checking web-1.corp.example.com\n{\"asgdns\":1,\"outcome\":\"unchanged\",\"fqdn\":\"web-1.corp.example.com\",\"ip\":\"10.0.0.5\"}\n"
	if o := workflow.ParseOutcome(out); o == nil || o.Outcome != "unchanged" || o.IP != "10.0.0.5" {
		t.Errorf("got %+v", o)
	}
	// The Linux step prints every field, empty or not.
	conflict := `{"asgdns":1,"outcome":"conflict","fqdn":"web-1.corp.example.com","ip":"10.0.0.5","ptr":"off","rcode":"","owner":"111111111111/i-0ffffffffffffffff","message":"web-1.corp.example.com is owned by 111111111111/i-0ffffffffffffffff: nothing was changed"}`
	want := workflow.CommandOutcome{Outcome: "conflict", FQDN: "web-1.corp.example.com", IP: "10.0.0.5", PTR: "off",
		Owner: "111111111111/i-0ffffffffffffffff", Message: "web-1.corp.example.com is owned by 111111111111/i-0ffffffffffffffff: nothing was changed"}
	if o := workflow.ParseOutcome(conflict + "\n"); o == nil || *o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
	for _, s := range []string{"", "no result here", `{"other":1}`, `{"asgdns":1,"outcome":`} {
		if o := workflow.ParseOutcome(s); o != nil {
			t.Errorf("%q: got %+v", s, o)
		}
	}
}

func TestValidIPv4(t *testing.T) {
	for ip, want := range map[string]bool{
		"10.20.30.40": true, "0.0.0.0": true, "255.255.255.255": true,
		"": false, "10.20.30": false, "10.20.30.256": false, "::1": false, "10.20.30.40 ": false, "10.20.30.40\n": false, "010.0.0.1x": false,
	} {
		if got := workflow.ValidIPv4(ip); got != want {
			t.Errorf("ValidIPv4(%q) = %v, want %v", ip, got, want)
		}
	}
}

// TestRefusingRcodesSurviveParsing: every rcode WaitForCommand classifies as
// a refusal is kept by ParseOutcome, or the classification could never see it.
func TestRefusingRcodesSurviveParsing(t *testing.T) {
	for _, rcode := range append([]string{"SERVFAIL", "TIMEOUT"}, workflow.RefusingRcodes...) {
		line := `{"asgdns":1,"outcome":"dns-error","fqdn":"web-1.corp.example.com","ip":"10.0.0.5","ptr":"off","rcode":"` + rcode + `","owner":"","message":"the update failed"}`
		if o := workflow.ParseOutcome(line); o == nil || o.Rcode != rcode {
			t.Errorf("%s: parsed %+v", rcode, o)
		}
	}
}
