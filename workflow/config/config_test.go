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
		s.OnFailure != workflow.Abandon || s.DCPlatform != "Windows" || s.HostnameTemplate != "{asg-label}-{instance-id}" || s.SharedHostname {
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
		{[]string{config.EnvSharedHostname, "maybe"}, config.EnvSharedHostname},
		// One name for every instance: only the first would get it.
		{[]string{config.EnvHostnameTemplate, "{asg}"}, config.EnvHostnameTemplate},
		{[]string{config.EnvHostnameTemplate, "{asg-label}-{az}"}, config.EnvHostnameTemplate},
		{[]string{config.EnvHostnameTemplate, "{tag:Name}", config.EnvSharedHostname, "false"}, config.EnvHostnameTemplate},
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
		{`{"sharedHostname":"yes"}`, "NotificationMetadata.sharedHostname"},
		{`{"hostnameTemplate":"{tag:Name}"}`, "NotificationMetadata.hostnameTemplate"},
		{`{"hostnameTemplate":"{asg}","sharedHostname":false}`, "gives every instance of the ASG the same name"},
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
		{"{asg-label}-{instance-id}", "web-prod-i-0a1b2c3d4e5f60718"},
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

func TestLoadHookNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value string
		set   bool
		want  workflow.HookNames
	}{
		{name: "unset", want: workflow.HookNames{"asgdns-launch", "asgdns-terminate"}},
		{name: "empty", set: true, value: "", want: workflow.HookNames{"asgdns-launch", "asgdns-terminate"}},
		{name: "blank", set: true, value: "  ", want: workflow.HookNames{"asgdns-launch", "asgdns-terminate"}},
		{name: "one", set: true, value: "dns-launch", want: workflow.HookNames{"dns-launch"}},
		{name: "list", set: true, value: " dns-launch , dns-terminate,team/dns_2 ", want: workflow.HookNames{"dns-launch", "dns-terminate", "team/dns_2"}},
		{name: "longest name", set: true, value: strings.Repeat("h", 255), want: workflow.HookNames{strings.Repeat("h", 255)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.LoadHookNames(func(k string) (string, bool) {
				if k == config.EnvHookNames && tc.set {
					return tc.value, true
				}
				return "", false
			})
			if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"dns launch", "dns-launch,hook;rm -rf /", "dns-launch,dns-términate", strings.Repeat("h", 256), "asgdns-launch\nx"} {
		got, err := config.LoadHookNames(env(config.EnvHookNames, bad))
		if workflow.Routed(err) != "InvalidConfig" || !strings.Contains(err.Error(), "environment variable "+config.EnvHookNames) ||
			!strings.Contains(err.Error(), "fix:") || got != nil {
			t.Errorf("%q: got %q, %v; want an InvalidConfig naming %s", bad, got, err, config.EnvHookNames)
		}
	}
}

// Real ASG names that are not DNS labels, as long as AWS allows (255).
var (
	eksASG = ("eks-ng_web-" + strings.Repeat("1a2b3c4d-", 40))[:255]
	ebASG  = ("awseb-e-abc123-stack-AWSEBAutoScalingGroup-" + strings.Repeat("XYZ", 80))[:255]
)

// TestASGLabel: {asg-label} turns any ASG name into label text, cut to the
// room the rest of the template leaves, so the default template always
// gives a valid hostname that keeps the whole instance id.
func TestASGLabel(t *testing.T) {
	inst := func(asg string) config.Instance {
		return config.Instance{ID: "i-0a1b2c3d4e5f60718", ASG: asg, AZ: "eu-west-1b"}
	}
	for _, tc := range []struct {
		name, asg, template, want string
	}{
		{"plain", "web-prod", config.DefaultHostnameTemplate, "web-prod-i-0a1b2c3d4e5f60718"},
		{"upper case, underscore, dot, spaces", "Web_Prod.v2 (blue)", config.DefaultHostnameTemplate, "web-prod-v2-blue-i-0a1b2c3d4e5f60718"},
		{"leading and trailing junk", "--web--", config.DefaultHostnameTemplate, "web-i-0a1b2c3d4e5f60718"},
		{"non-ASCII is a separator", "wéb", config.DefaultHostnameTemplate, "w-b-i-0a1b2c3d4e5f60718"},
		{"EKS node group, 255 characters", eksASG, config.DefaultHostnameTemplate,
			"eks-ng-web-1a2b3c4d-1a2b3c4d-1a2b3c4d-1a2b3-i-0a1b2c3d4e5f60718"},
		// The cut lands on a separator, which is dropped: 62 characters.
		{"Elastic Beanstalk, 255 characters", ebASG, config.DefaultHostnameTemplate,
			"awseb-e-abc123-stack-awsebautoscalinggroup-i-0a1b2c3d4e5f60718"},
		{"EKS with the short id", eksASG, "{asg-label}-{short-id}", "eks-ng-web-1a2b3c4d-1a2b3c4d-1a2b3c4d-1a2b3c4d-1a2b3c4-e5f60718"},
		{"Elastic Beanstalk with the short id", ebASG, "{asg-label}-{short-id}", "awseb-e-abc123-stack-awsebautoscalinggroup-xyzxyzxyzxy-e5f60718"},
		{"used twice, the room is shared", eksASG, "{asg-label}-{asg-label}-{id}",
			"eks-ng-web-1a2b3c4d-1a-eks-ng-web-1a2b3c4d-1a-0a1b2c3d4e5f60718"},
		{"alone", eksASG, "{asg-label}", "eks-ng-web-1a2b3c4d-1a2b3c4d-1a2b3c4d-1a2b3c4d-1a2b3c4d-1a2b3c4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := config.Settings{Zone: "corp.example.com", HostnameTemplate: tc.template, TTL: 300}
			r, err := s.Record(inst(tc.asg))
			if err != nil {
				t.Fatal(err)
			}
			if r.Hostname != tc.want || !config.ValidLabel(r.Hostname) || len(r.Hostname) > 63 || r.FQDN != tc.want+".corp.example.com" {
				t.Errorf("hostname %q (%d), want %q", r.Hostname, len(r.Hostname), tc.want)
			}
		})
	}
	// Nothing of the name is label text: the hostname starts with "-".
	s := config.Settings{Zone: "corp.example.com", HostnameTemplate: config.DefaultHostnameTemplate, TTL: 300}
	if _, err := s.Record(inst("___")); workflow.Routed(err) != "InvalidHostname" || !strings.Contains(err.Error(), `"-i-0a1b2c3d4e5f60718"`) {
		t.Errorf("ASG without label text: got %v, want InvalidHostname naming the hostname", err)
	}
}

// TestUniquePerInstance: a template must name each instance differently,
// unless the operator says one shared name is meant.
func TestUniquePerInstance(t *testing.T) {
	for template, unique := range map[string]bool{
		"{asg-label}-{instance-id}": true, "{asg}-{id}": true, "{tag:Role}-{short-id}": true, "{short-id}": true,
		"{asg}": false, "{asg-label}-{az}": false, "{tag:Name}": false, "web": false, "instance-id": false,
	} {
		tpl, err := config.ParseTemplate(template)
		if err != nil {
			t.Fatal(err)
		}
		if got := tpl.UniquePerInstance(); got != unique {
			t.Errorf("%s: UniquePerInstance() = %v, want %v", template, got, unique)
		}
	}
	// Stack default: only with ASGDNS_SHARED_HOSTNAME.
	s, err := config.Load(env(config.EnvHostnameTemplate, "{asg}", config.EnvSharedHostname, "true"))
	if err != nil || !s.SharedHostname || s.HostnameTemplate != "{asg}" {
		t.Errorf("shared hostname by the stack: %+v, %v", s, err)
	}
	_, err = config.Load(env(config.EnvHostnameTemplate, "{asg}"))
	if workflow.Routed(err) != "InvalidConfig" || !strings.Contains(err.Error(), "environment variable "+config.EnvHostnameTemplate) ||
		!strings.Contains(err.Error(), "sharedHostname") {
		t.Errorf("shared hostname without saying so: %v", err)
	}
	// Per ASG: only with "sharedHostname": true in the metadata (or the
	// stack's), and the ASG named.
	base, err := config.Load(env())
	if err != nil {
		t.Fatal(err)
	}
	got, err := base.WithMetadata("web-prod", `{"hostnameTemplate":"{tag:Name}","sharedHostname":true}`)
	if err != nil || !got.SharedHostname || got.HostnameTemplate != "{tag:Name}" {
		t.Errorf("shared hostname by metadata: %+v, %v", got, err)
	}
	_, err = base.WithMetadata("web-prod", `{"hostnameTemplate":"{tag:Name}"}`)
	if workflow.Routed(err) != "InvalidConfig" || !strings.Contains(err.Error(), `detail.NotificationMetadata.hostnameTemplate of ASG "web-prod"`) {
		t.Errorf("shared hostname by metadata without saying so: %v", err)
	}
	shared, err := config.Load(env(config.EnvSharedHostname, "true"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := shared.WithMetadata("web-prod", `{"hostnameTemplate":"{tag:Name}"}`); err != nil || got.HostnameTemplate != "{tag:Name}" {
		t.Errorf("stack allows shared names, metadata uses one: %+v, %v", got, err)
	}
}

// TestCheckRecord: a record carried in a state (a kept record, a replay)
// is used only if it is one Record could have derived.
func TestCheckRecord(t *testing.T) {
	good := workflow.Record{Hostname: "web-prod-i-0a1b2c3d4e5f60718", Zone: "corp.example.com",
		FQDN: "web-prod-i-0a1b2c3d4e5f60718.corp.example.com", TTL: 300}
	if err := config.CheckRecord(good); err != nil {
		t.Errorf("valid record: %v", err)
	}
	long := strings.Repeat("a", 63)
	longZone := long + "." + long + "." + strings.Repeat("b", 56) + ".com" // FQDN of 252 characters
	if err := config.CheckRecord(workflow.Record{Hostname: long, Zone: longZone, FQDN: long + "." + longZone, TTL: 60}); err != nil {
		t.Errorf("longest record: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(r *workflow.Record)
		field  string
	}{
		{"zone not a domain", func(r *workflow.Record) { r.Zone, r.FQDN = "corp", r.Hostname+".corp" }, "state.instance.record.zone"},
		{"zone with a newline", func(r *workflow.Record) { r.Zone = "corp.example.com\nx" }, "state.instance.record.zone"},
		{"zone not canonical", func(r *workflow.Record) { r.Zone, r.FQDN = "Corp.Example.com", r.Hostname+".Corp.Example.com" }, "state.instance.record"},
		{"zone with a trailing dot", func(r *workflow.Record) { r.Zone, r.FQDN = "corp.example.com.", r.Hostname+".corp.example.com." }, "state.instance.record"},
		{"hostname not a label", func(r *workflow.Record) { r.Hostname, r.FQDN = "web;reboot", "web;reboot.corp.example.com" }, "state.instance.record"},
		{"hostname upper case", func(r *workflow.Record) { r.Hostname, r.FQDN = "Web", "Web.corp.example.com" }, "state.instance.record"},
		{"fqdn of another name", func(r *workflow.Record) { r.FQDN = "dc01.corp.example.com" }, "state.instance.record"},
		{"fqdn in another zone", func(r *workflow.Record) { r.FQDN = r.Hostname + ".example.com" }, "state.instance.record"},
		{"fqdn too long", func(r *workflow.Record) {
			r.Hostname, r.Zone = long, strings.Repeat(long+".", 3)+"commercial"
			r.FQDN = r.Hostname + "." + r.Zone
		}, "state.instance.record"},
		{"ttl 0", func(r *workflow.Record) { r.TTL = 0 }, "state.instance.record.ttl"},
		{"ttl too long", func(r *workflow.Record) { r.TTL = workflow.MaxTTL + 1 }, "state.instance.record.ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.change(&r)
			err := config.CheckRecord(r)
			if workflow.Routed(err) != "InvalidHostname" || !strings.HasPrefix(err.Error(), tc.field+" ") {
				t.Errorf("%+v: got %v, want InvalidHostname naming %s", r, err, tc.field)
			}
		})
	}
}
