package config_test

import (
	"regexp"
	"testing"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

var (
	label = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	zone  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
)

// FuzzRecord: whatever the metadata, ASG name, tag value and AZ, the result
// is a valid label in a valid zone, or a typed InvalidConfig /
// InvalidHostname error. Run with: go test -fuzz=FuzzRecord ./config
func FuzzRecord(f *testing.F) {
	seeds := []struct{ metadata, asg, tag, az string }{
		{`{"zone":"corp.example.com","ttl":300}`, "web-prod", "web", "eu-west-1b"},
		{``, "Web_Prod", "x", "eu-west-1a"},
		{`{"hostnameTemplate":"{tag:Name}-{short-id}"}`, "a", "web$(reboot)", "az"},
		{`{"hostnameTemplate":"{tag:Name}-{id}"}`, "a", "w\u0435b", "az"},
		{`{"hostnameTemplate":"{tag:Name}-{id}"}`, "a", "web\n;rm -rf /", "az"},
		{`{"hostnameTemplate":"{tag:Name}","sharedHostname":true}`, "a", "`id`'\"", "az"},
		{``, "eks-ng_web-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d", "", ""},
		{`{"hostnameTemplate":"{asg-label}-{asg-label}-{short-id}"}`, "awseb-e-abc123-stack-AWSEBAutoScalingGroup-XYZ", "", ""},
		{``, "___", "", ""},
		{`{"hostnameTemplate":"{asg}{asg}{asg}"}`, "abcdefghijklmnopqrstuvwxyz", "", ""},
		{`{"zone":"10.0.0.1"}`, "a", "", ""},
		{`{"zone":"a..b"}`, "a", "", ""},
		{`{"hostnameTemplate":"{az}"}`, "a", "", "-"},
		{`{"hostnameTemplate":"{"}`, "a", "", ""},
		{`not json`, "a", "", ""},
		{`{"zone":"CORP.EXAMPLE.COM."}`, "ASG", "", "AZ"},
	}
	for _, s := range seeds {
		f.Add(s.metadata, s.asg, s.tag, s.az)
	}
	base, err := config.Load(func(k string) (string, bool) {
		v, ok := map[string]string{config.EnvZone: "corp.example.com", config.EnvDCInstanceIDs: "i-0123456789abcdef0"}[k]
		return v, ok
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, metadata, asg, tag, az string) {
		s, err := base.WithMetadata(asg, metadata)
		if err != nil {
			if workflow.Routed(err) != "InvalidConfig" {
				t.Fatalf("metadata %q: untyped error %T %v", metadata, err, err)
			}
			return
		}
		r, err := s.Record(config.Instance{ID: "i-0a1b2c3d4e5f60718", ASG: asg, AZ: az, Tags: map[string]string{"Name": tag}})
		if err != nil {
			if name := workflow.Routed(err); name != "InvalidHostname" && name != "InvalidConfig" {
				t.Fatalf("untyped error %T %v", err, err)
			}
			return
		}
		if !label.MatchString(r.Hostname) || !zone.MatchString(r.Zone) || r.FQDN != r.Hostname+"."+r.Zone || len(r.FQDN) > 253 {
			t.Fatalf("invalid record %+v from metadata %q asg %q tag %q az %q", r, metadata, asg, tag, az)
		}
		if !regexp.MustCompile(workflow.ParamPatterns[workflow.ParamHostname]).MatchString(r.Hostname) ||
			!regexp.MustCompile(workflow.ParamPatterns[workflow.ParamZone]).MatchString(r.Zone) {
			t.Fatalf("record %+v would fail the document's allowedPattern", r)
		}
	})
}
