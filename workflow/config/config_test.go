package config_test

import (
	"strings"
	"testing"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

func env(kv ...string) config.Lookup {
	m := map[string]string{
		config.EnvZone:          "corp.example.com",
		config.EnvDCInstanceIDs: "i-0123456789abcdef0",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(m, kv[i])
			continue
		}
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDefaults(t *testing.T) {
	s, err := config.Load(env(config.EnvZone, "Corp.Example.COM.", config.EnvDCInstanceIDs, " i-0123456789abcdef0 , i-0fedcba9876543210 "))
	if err != nil {
		t.Fatal(err)
	}
	if s.Zone != "corp.example.com" || len(s.DCInstanceIDs) != 2 || s.TTL != 300 || s.PTR ||
		s.OnFailure != workflow.Abandon || s.DCPlatform != "Windows" || s.HostnameTemplate != "{asg}-{instance-id}" {
		t.Errorf("unexpected defaults %+v", s)
	}
}

func TestLoadRejects(t *testing.T) {
	cases := []struct {
		kv   []string
		name string
	}{
		{[]string{config.EnvZone, "<unset>"}, config.EnvZone},
		{[]string{config.EnvDCInstanceIDs, ""}, config.EnvDCInstanceIDs},
		{[]string{config.EnvDCInstanceIDs, "i-123"}, config.EnvDCInstanceIDs},
		{[]string{config.EnvTTL, "5m"}, config.EnvTTL},
		{[]string{config.EnvTTL, "5"}, config.EnvTTL},
		{[]string{config.EnvPTR, "maybe"}, config.EnvPTR},
		{[]string{config.EnvOnFailure, "RETRY"}, config.EnvOnFailure},
		{[]string{config.EnvDCPlatform, "BeOS"}, config.EnvDCPlatform},
		{[]string{config.EnvHostnameTemplate, "{name}"}, config.EnvHostnameTemplate},
		{[]string{config.EnvZone, "corp"}, config.EnvZone},
		{[]string{config.EnvDocumentName, "a b"}, config.EnvDocumentName},
	}
	for _, tc := range cases {
		_, err := config.Load(env(tc.kv...))
		if workflow.Routed(err) != "InvalidConfig" || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), "fix:") {
			t.Errorf("%v: got %v, want InvalidConfig naming %s", tc.kv, err, tc.name)
		}
	}
}

func TestLoadSession(t *testing.T) {
	lookup := func(m map[string]string) config.Lookup {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	s, err := config.LoadSession(lookup(map[string]string{
		config.EnvRoleARN: "arn:aws:iam::222222222222:role/asgdns/dns-registrar", config.EnvExternalID: "ext-123"}))
	if err != nil || s.Account != "222222222222" || s.ExternalID != "ext-123" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, m := range []map[string]string{
		{},
		{config.EnvRoleARN: "arn:aws:iam::2222:role/x"},
		{config.EnvRoleARN: "arn:aws:iam::222222222222:user/x"},
		{config.EnvRoleARN: "arn:aws:iam::222222222222:role/x", config.EnvExternalID: "secret value with spaces"},
	} {
		_, err := config.LoadSession(lookup(m))
		if workflow.Routed(err) != "InvalidConfig" {
			t.Errorf("%v: got %v", m, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret value") {
			t.Errorf("external id repeated in message: %v", err)
		}
	}
}

func TestLoadOnFailure(t *testing.T) {
	if p, err := config.LoadOnFailure(env()); err != nil || p != workflow.Abandon {
		t.Errorf("default: %v %v", p, err)
	}
	if p, err := config.LoadOnFailure(env(config.EnvOnFailure, "CONTINUE")); err != nil || p != workflow.Continue {
		t.Errorf("CONTINUE: %v %v", p, err)
	}
	if _, err := config.LoadOnFailure(env(config.EnvOnFailure, "continue")); workflow.Routed(err) != "InvalidConfig" {
		t.Errorf("lower case accepted: %v", err)
	}
}

func TestWithMetadata(t *testing.T) {
	base, err := config.Load(env())
	if err != nil {
		t.Fatal(err)
	}
	for _, md := range []string{"", "  ", "{}"} {
		if got, err := base.WithMetadata("web", md); err != nil || got.Zone != base.Zone {
			t.Errorf("%q: %v", md, err)
		}
	}
	cases := []struct{ md, want string }{
		{`additional-info`, "not a JSON object"},
		{`[1,2]`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`{"zone":"a.b"} {"x":1}`, "not a JSON object"},
		{`{"zone":"bad_zone.com"}`, "NotificationMetadata.zone"},
		{`{"Zone":"a.b"}`, "not a known setting"},
		{`{"externalId":"x"}`, "cannot be set per ASG"},
		{`{"ttl":1e9}`, "NotificationMetadata.ttl"},
		{`{"ttl":-1}`, "NotificationMetadata.ttl"},
		{`{"dcInstanceIds":[]}`, "NotificationMetadata.dcInstanceIds"},
		{`{"dcInstanceIds":["i-0123456789abcdef0; rm -rf /"]}`, "NotificationMetadata.dcInstanceIds"},
		{`{"onFailure":"abandon"}`, "NotificationMetadata.onFailure"},
		{`{"hostnameTemplate":"{asg}` + "`id`" + `"}`, "NotificationMetadata.hostnameTemplate"},
		{`{"hostnameTemplate":"{asg"}`, "without a closing"},
		{`{"hostnameTemplate":"asg}"}`, "without a matching"},
		{`{"ptr":"yes"}`, "NotificationMetadata.ptr"},
	}
	for _, tc := range cases {
		_, err := base.WithMetadata("web-prod", tc.md)
		if base.DCInstanceIDs[0] != "i-0123456789abcdef0" {
			t.Fatalf("%s changed the defaults: %v", tc.md, base.DCInstanceIDs)
		}
		if workflow.Routed(err) != "InvalidConfig" || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `ASG "web-prod"`) {
			t.Errorf("%s: got %v, want InvalidConfig containing %q and the ASG", tc.md, err, tc.want)
		}
	}
}

func TestRecord(t *testing.T) {
	inst := config.Instance{ID: "i-0a1b2c3d4e5f60718", ASG: "Web-Prod", AZ: "eu-west-1b", Tags: map[string]string{"Role": "API", "Bad": "a.b"}}
	cases := []struct{ template, want string }{
		{"{asg}-{instance-id}", "web-prod-i-0a1b2c3d4e5f60718"},
		{"{asg}-{short-id}", "web-prod-e5f60718"},
		{"{asg}-{id}", "web-prod-0a1b2c3d4e5f60718"},
		{"{tag:Role}-{az}", "api-eu-west-1b"},
		{"host1", "host1"},
	}
	for _, tc := range cases {
		s := config.Settings{Zone: "corp.example.com", HostnameTemplate: tc.template, TTL: 300}
		r, err := s.Record(inst)
		if err != nil || r.Hostname != tc.want || r.FQDN != tc.want+".corp.example.com" {
			t.Errorf("%s: %+v %v", tc.template, r, err)
		}
	}
	for _, template := range []string{"{tag:Bad}", "{tag:Missing}", "-{asg}", "{asg}-", strings.Repeat("a", 64)} {
		s := config.Settings{Zone: "corp.example.com", HostnameTemplate: template, TTL: 300}
		if _, err := s.Record(inst); workflow.Routed(err) != "InvalidHostname" {
			t.Errorf("%s: got %v, want InvalidHostname", template, err)
		}
	}
}

func TestNormalizeZone(t *testing.T) {
	good := map[string]string{"corp.example.com": "corp.example.com", "CORP.Example.com.": "corp.example.com", "a.b": "a.b", "xn--bcher-kva.example": "xn--bcher-kva.example"}
	for in, want := range good {
		if got, err := config.NormalizeZone(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", ".", "com", "a..b", "-a.b", "a-.b", "a b.c", "10.0.0.1", "a.b;c", "bücher.example", "a.b\n", strings.Repeat("a.", 127) + "com"} {
		if _, err := config.NormalizeZone(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
