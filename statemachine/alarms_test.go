package statemachine

import (
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestAlarmsCanDeliver: every topic an alarm notifies can receive what
// CloudWatch publishes. A topic encrypted with the AWS-managed key
// (alias/aws/sns) never can: its key policy cannot let CloudWatch use it
// (aws-facts §8). So each alarm's topic is either unencrypted, or
// encrypted with a key of this template whose policy lets
// cloudwatch.amazonaws.com Decrypt and GenerateDataKey*, scoped to this
// account (aws:SourceAccount) and to alarms (aws:SourceArn).
func TestAlarmsCanDeliver(t *testing.T) {
	res := resources(t, readTemplate(t, appTemplate))
	alarms := 0
	for id, r := range res {
		if typeOf(r) != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms++
		actions := items(field(r, "Properties", "AlarmActions"))
		if len(actions) == 0 {
			t.Errorf("alarm %s notifies nobody", id)
		}
		for _, a := range actions {
			if a.Tag != "!Ref" || typeOf(res[a.Value]) != "AWS::SNS::Topic" {
				t.Errorf("alarm %s: action %q is not a !Ref of a topic in the template", id, a.Value)
				continue
			}
			if why := undeliverable(res, a.Value); why != "" {
				t.Errorf("alarm %s notifies %s, which it cannot: %s", id, a.Value, why)
			}
		}
	}
	if alarms == 0 {
		t.Fatal("no alarms in the template")
	}
}

// undeliverable says why CloudWatch cannot publish to the topic, or "".
func undeliverable(res map[string]*yaml.Node, topic string) string {
	key := field(res[topic], "Properties", "KmsMasterKeyId")
	switch {
	case key == nil:
		return "" // not encrypted
	case key.Tag != "!Ref" && key.Tag != "!GetAtt":
		return "it is encrypted with " + key.Value + ", a key that is not this template's (alias/aws/sns can never be used by CloudWatch)"
	}
	keyID := strings.Split(key.Value, ".")[0]
	if typeOf(res[keyID]) != "AWS::KMS::Key" {
		return "its key " + key.Value + " is not an AWS::KMS::Key of the template"
	}
	for _, st := range items(field(res[keyID], "Properties", "KeyPolicy", "Statement")) {
		principal := field(st, "Principal", "Service")
		var actions []string
		for _, a := range items(field(st, "Action")) {
			actions = append(actions, a.Value)
		}
		if field(st, "Effect").Value != "Allow" || principal == nil || principal.Value != "cloudwatch.amazonaws.com" ||
			!slices.Contains(actions, "kms:Decrypt") || !slices.Contains(actions, "kms:GenerateDataKey*") {
			continue
		}
		account := field(st, "Condition", "StringEquals", "aws:SourceAccount")
		source := field(st, "Condition", "ArnLike", "aws:SourceArn")
		if account == nil || account.Value != "AWS::AccountId" || source == nil || !strings.Contains(source.Value, ":alarm:") {
			return "its key lets CloudWatch use it without scoping to this account's alarms (aws:SourceAccount, aws:SourceArn)"
		}
		return ""
	}
	return "its key's policy does not let cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*"
}
