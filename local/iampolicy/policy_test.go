package iampolicy

import (
	"encoding/json"
	"testing"
)

func TestConditionOperators(t *testing.T) {
	ctx := map[string]string{"k": "Value-1", "arn": "arn:aws:iam::1:role/xFunctionRoley"}
	for _, tc := range []struct {
		c    Condition
		want bool
	}{
		{Condition{Operator: "StringEquals", Key: "k", Values: []string{"x", "Value-1"}}, true},
		{Condition{Operator: "StringNotEquals", Key: "k", Values: []string{"Value-1"}}, false},
		{Condition{Operator: "StringEqualsIgnoreCase", Key: "k", Values: []string{"value-1"}}, true},
		{Condition{Operator: "StringLike", Key: "k", Values: []string{"Val?e-*"}}, true},
		{Condition{Operator: "StringNotLike", Key: "k", Values: []string{"V*"}}, false},
		{Condition{Operator: "ArnLike", Key: "arn", Values: []string{"arn:*:iam::*:role/*FunctionRole*"}}, true},
		{Condition{Operator: "StringEquals", Key: "missing", Values: []string{"x"}}, false},
		{Condition{Operator: "StringNotEquals", Key: "missing", Values: []string{"x"}}, true},
		{Condition{Operator: "StringEquals", IfExists: true, Key: "missing", Values: []string{"x"}}, true},
		{Condition{Operator: "Null", Key: "missing", Values: []string{"true"}}, true},
		{Condition{Operator: "Null", Key: "k", Values: []string{"true"}}, false},
	} {
		if got := tc.c.holds(ctx); got != tc.want {
			t.Errorf("%+v = %v, want %v", tc.c, got, tc.want)
		}
	}
	for _, bad := range []string{
		`{"Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"k":"v"}}}]}`,
		`{"Statement":[{"Effect":"Maybe","Action":"*"}]}`,
		`{"Version":"2012-10-17"}`,
	} {
		var doc any
		_ = json.Unmarshal([]byte(bad), &doc)
		if _, err := Parse(doc); err == nil {
			t.Errorf("policy %s was accepted", bad)
		}
	}
	if !Wildcard("a*b?d", "axxbcd") || Wildcard("a*b", "ab c") || !Wildcard("*", "") {
		t.Error("wildcard")
	}
}

// Allows: an explicit Deny wins; a trust policy's Principal matches an
// account, its root, a role (any session of it) or the exact caller.
func TestAllows(t *testing.T) {
	session := Caller{ARN: "arn:aws:sts::111111111111:assumed-role/fn-role/fn", Account: "111111111111",
		RoleARN: "arn:aws:iam::111111111111:role/fn-role"}
	user := Caller{ARN: "arn:aws:iam::333333333333:user/alice", Account: "333333333333"}
	for _, tc := range []struct {
		name, policy string
		caller       Caller
		action       string
		want         bool
	}{
		{"allowed", `{"Statement":{"Effect":"Allow","Action":"ssm:*","Resource":"*"}}`, session, "ssm:SendCommand", true},
		{"actions ignore case", `{"Statement":{"Effect":"Allow","Action":"SSM:sendcommand","Resource":"*"}}`, session, "ssm:SendCommand", true},
		{"no statement allows", `{"Statement":{"Effect":"Allow","Action":"ssm:Get*","Resource":"*"}}`, session, "ssm:SendCommand", false},
		{"deny wins", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"ssm:SendCommand","Resource":"*"}]}`,
			session, "ssm:SendCommand", false},
		{"resource", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:ssm:*:*:document/other"}}`, session, "ssm:SendCommand", false},
		{"principal: the role", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/fn-role"},"Action":"sts:AssumeRole"}}`,
			session, "sts:AssumeRole", true},
		{"principal: the account", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}}`,
			session, "sts:AssumeRole", true},
		{"principal: the account's root", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}}`,
			user, "sts:AssumeRole", false},
		{"principal: anyone", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`, user, "sts:AssumeRole", true},
		{"principal: a service only", `{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}`,
			session, "sts:AssumeRole", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc any
			if err := json.Unmarshal([]byte(tc.policy), &doc); err != nil {
				t.Fatal(err)
			}
			p, err := Parse(doc)
			if err != nil {
				t.Fatal(err)
			}
			req := Request{Action: tc.action, Resource: "arn:aws:ssm:eu-west-1:222222222222:document/asgdns", Caller: tc.caller}
			if got := p.Allows(req); got != tc.want {
				t.Errorf("Allows = %v, want %v", got, tc.want)
			}
		})
	}
}
