package eventpattern

import (
	"encoding/json"
	"testing"
)

func TestEventPatterns(t *testing.T) {
	event := `{
		"version": "0", "id": "1", "detail-type": "EC2 Instance-launch Lifecycle Action", "source": "aws.autoscaling",
		"account": "111111111111", "time": "2026-11-20T08:15:42Z", "region": "eu-west-1",
		"resources": ["arn:aws:autoscaling:eu-west-1:111111111111:autoScalingGroup:x:autoScalingGroupName/web-prod"],
		"detail": {
			"AutoScalingGroupName": "web-prod", "EC2InstanceId": "i-0a1b2c3d4e5f60718", "Origin": "EC2",
			"count": 5, "ratio": 0.5, "enabled": true, "nothing": null, "ip": "10.20.1.10",
			"tags": ["blue", "green"], "nested": {"deep": {"name": "x"}}, "items": [{"k": "a"}, {"k": "b"}]
		}
	}`
	for _, tc := range []struct {
		name, pattern string
		match         bool
	}{
		{"exact", `{"source":["aws.autoscaling"]}`, true},
		{"exact, one of several", `{"detail-type":["EC2 Instance-terminate Lifecycle Action","EC2 Instance-launch Lifecycle Action"]}`, true},
		{"exact, no", `{"source":["aws.ec2"]}`, false},
		{"all fields must match", `{"source":["aws.autoscaling"],"detail-type":["nope"]}`, false},
		{"nested", `{"detail":{"AutoScalingGroupName":["web-prod"]}}`, true},
		{"nested deeper", `{"detail":{"nested":{"deep":{"name":["x"]}}}}`, true},
		{"missing field", `{"detail":{"Destination":["AutoScalingGroup"]}}`, false},
		{"number", `{"detail":{"count":[5]}}`, true},
		{"number is not a string", `{"detail":{"count":["5"]}}`, false},
		{"bool and null", `{"detail":{"enabled":[true],"nothing":[null]}}`, true},
		{"array field: any element", `{"detail":{"tags":["green"]}}`, true},
		{"array of objects", `{"detail":{"items":{"k":["b"]}}}`, true},
		{"prefix", `{"detail":{"EC2InstanceId":[{"prefix":"i-0a1b"}]}}`, true},
		{"prefix, no", `{"detail":{"EC2InstanceId":[{"prefix":"i-9"}]}}`, false},
		{"prefix ignoring case", `{"detail":{"AutoScalingGroupName":[{"prefix":{"equals-ignore-case":"WEB-"}}]}}`, true},
		{"suffix", `{"detail-type":[{"suffix":"Lifecycle Action"}]}`, true},
		{"equals-ignore-case", `{"detail":{"Origin":[{"equals-ignore-case":"ec2"}]}}`, true},
		{"wildcard", `{"detail":{"AutoScalingGroupName":[{"wildcard":"web-*"}]}}`, true},
		{"wildcard, no", `{"detail":{"AutoScalingGroupName":[{"wildcard":"api-*"}]}}`, false},
		{"anything-but value", `{"detail":{"Origin":[{"anything-but":"WarmPool"}]}}`, true},
		{"anything-but list, excluded", `{"detail":{"Origin":[{"anything-but":["EC2","WarmPool"]}]}}`, false},
		{"anything-but prefix", `{"detail":{"AutoScalingGroupName":[{"anything-but":{"prefix":"web-"}}]}}`, false},
		{"anything-but needs the field", `{"detail":{"Destination":[{"anything-but":"WarmPool"}]}}`, false},
		{"exists true", `{"detail":{"Origin":[{"exists":true}]}}`, true},
		{"exists false on a missing field", `{"detail":{"Destination":[{"exists":false}]}}`, true},
		{"exists false on a present field", `{"detail":{"Origin":[{"exists":false}]}}`, false},
		{"exists only on leaves", `{"detail":{"nested":[{"exists":true}]}}`, false},
		{"numeric range", `{"detail":{"count":[{"numeric":[">",0,"<=",5]}]}}`, true},
		{"numeric, no", `{"detail":{"ratio":[{"numeric":[">=",1]}]}}`, false},
		{"numeric equal", `{"detail":{"count":[{"numeric":["=",5]}]}}`, true},
		{"cidr", `{"detail":{"ip":[{"cidr":"10.20.0.0/16"}]}}`, true},
		{"cidr, no", `{"detail":{"ip":[{"cidr":"10.30.0.0/16"}]}}`, false},
		{"$or", `{"$or":[{"source":["nope"]},{"detail":{"count":[5]}}]}`, true},
		{"$or, none", `{"$or":[{"source":["nope"]},{"detail":{"count":[6]}}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Compile(json.RawMessage(tc.pattern))
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := json.Unmarshal([]byte(event), &doc); err != nil {
				t.Fatal(err)
			}
			if got := m.Matches(doc); got != tc.match {
				t.Errorf("match = %v, want %v", got, tc.match)
			}
		})
	}
}

func TestInvalidEventPatterns(t *testing.T) {
	for _, p := range []string{
		`not json`, `[]`, `{}`, `{"source":"aws.autoscaling"}`, `{"source":[]}`, `{"source":[{"prefix":1}]}`,
		`{"source":[{"numeric":[">"]}]}`, `{"source":[{"unknown":"x"}]}`, `{"$or":[{"a":["b"]}]}`,
		`{"source":[{"prefix":"a","suffix":"b"}]}`, `{"source":[{"exists":"yes"}]}`, `{"a":[{"cidr":"nope"}]}`,
	} {
		if _, err := Compile(json.RawMessage(p)); err == nil {
			t.Errorf("pattern %s was accepted", p)
		}
	}
}
