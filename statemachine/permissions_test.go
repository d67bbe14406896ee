package statemachine

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The exact actions each role may use (DESIGN §8: least privilege, each
// role's exact action list pinned by a test). Any action added to a template
// fails TestApplicationRoleActions or TestSharedServicesRole until it is
// added here too, in review.
//
// Not in the templates' text, so not pinned here: the policies SAM attaches
// to every function role (AWSLambdaBasicExecutionRole, and with Tracing:
// Active the X-Ray write policy) and the role SAM generates for the
// EventBridge rule (states:StartExecution on this state machine).
var applicationRoles = map[string][]string{
	"DescribeInstanceFunction": {"autoscaling:DescribeAutoScalingInstances", "ec2:DescribeInstances"},
	"AssumeRoleFunction":       {"sts:AssumeRole", "sts:SetSourceIdentity"},
	"SendCommandFunction":      {"sts:AssumeRole", "sts:SetSourceIdentity"},
	// The heartbeat is granted per ASG by Fn::ForEach::HookPermissions.
	"WaitForCommandFunction":    {"autoscaling:RecordLifecycleActionHeartbeat", "sts:AssumeRole", "sts:SetSourceIdentity"},
	"CompleteLifecycleFunction": {"autoscaling:CompleteLifecycleAction", "autoscaling:DescribeAutoScalingInstances"},
	// The heartbeat is granted per ASG by Fn::ForEach::HookPermissions.
	"HoldInstanceFunction": {"autoscaling:RecordLifecycleActionHeartbeat"},
	// The reconciler (DESIGN §9): reads the groups, their hooks and
	// instances; invokes the two functions below; starts repairs on the
	// state machine's alias (DNS-admin privilege, §8).
	"ReconcileFunction": {
		"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances", "autoscaling:DescribeLifecycleHooks",
		"ec2:DescribeInstances",
		"lambda:InvokeFunction",
		"states:StartExecution",
	},
	// Lists a zone through the shared-services role, for the reconciler.
	"ListZoneFunction": {"sts:AssumeRole", "sts:SetSourceIdentity"},
	// Starts the rule's dead-lettered events on the alias, then deletes them.
	"DrainDeadLettersFunction": {"sqs:DeleteMessage", "sqs:ReceiveMessage", "states:StartExecution"},
	"DnsRegistration": {
		"lambda:InvokeFunction",
		"logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups", "logs:DescribeResourcePolicies",
		"logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
		"xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
	},
}

// The shared-services role of each application account: what it may do, and
// who may assume it how.
var (
	registrarActions = []string{"ssm:GetCommandInvocation", "ssm:SendCommand"}
	registrarTrust   = []string{"sts:AssumeRole", "sts:SetSourceIdentity"}
	// sourceIdentities are the SourceIdentity values asgdns's sessions
	// carry (sorted): asgdns-i-<instance> for the workflow's, and
	// asgdns-reconcile for the reconciler's
	// (functions/reconcile/run.CredentialsSubject).
	sourceIdentities = []string{"asgdns-i-*", "asgdns-reconcile"}
)

const (
	appTemplate    = "../template.yaml"
	sharedTemplate = "../shared-services/template.yaml"
	registrarRole  = "RegistrarRole&{TenantAccountId}"
)

// samPolicyTemplates are the SAM policy templates the application template
// may use, with the actions each grants (SAM's policy_templates.json).
var samPolicyTemplates = map[string][]string{
	"LambdaInvokePolicy": {"lambda:InvokeFunction"},
}

// TestApplicationRoleActions: each function role and the state machine's
// role in template.yaml may use exactly its pinned actions.
func TestApplicationRoleActions(t *testing.T) {
	got := applicationActions(t, readTemplate(t, appTemplate))
	for _, id := range slices.Sorted(maps.Keys(got)) {
		want, ok := applicationRoles[id]
		if !ok {
			t.Errorf("%s has a role with %v, and no pinned action list here", id, got[id])
			continue
		}
		if want = sortedSet(want); !slices.Equal(got[id], want) {
			t.Errorf("%s may use %v, want exactly %v", id, got[id], want)
		}
	}
	for id := range applicationRoles {
		if _, ok := got[id]; !ok {
			t.Errorf("%s: pinned here, but no such function or state machine in %s", id, appTemplate)
		}
	}
}

// notSteps are the template's functions that are not steps of the state
// machine: they start its executions and never run in one.
var notSteps = []string{"ReconcileFunction", "ListZoneFunction", "DrainDeadLettersFunction"}

// TestStateMachineInvokesOnlyTheFunctions: the state machine's
// LambdaInvokePolicy entries name exactly the template's six step
// functions, the ones its DefinitionSubstitutions give it; the reconciler
// is neither.
func TestStateMachineInvokesOnlyTheFunctions(t *testing.T) {
	res := resources(t, readTemplate(t, appTemplate))
	var steps, invoked, substituted []string
	for id, r := range res {
		if typeOf(r) == "AWS::Serverless::Function" && !slices.Contains(notSteps, id) {
			steps = append(steps, id)
		}
	}
	for _, id := range notSteps {
		if typeOf(res[id]) != "AWS::Serverless::Function" {
			t.Errorf("%s: listed in notSteps, but no such function in %s", id, appTemplate)
		}
	}
	for _, p := range items(field(res["DnsRegistration"], "Properties", "Policies")) {
		if name := field(p, "LambdaInvokePolicy", "FunctionName"); name != nil {
			if name.Tag != "!Ref" {
				t.Errorf("LambdaInvokePolicy FunctionName %q is not a !Ref of a function", name.Value)
			}
			invoked = append(invoked, name.Value)
		}
	}
	subs := field(res["DnsRegistration"], "Properties", "DefinitionSubstitutions")
	for i := 0; subs != nil && i+1 < len(subs.Content); i += 2 {
		if v := subs.Content[i+1]; v.Tag == "!GetAtt" && strings.HasSuffix(v.Value, ".Arn") {
			substituted = append(substituted, strings.TrimSuffix(v.Value, ".Arn"))
		}
	}
	slices.Sort(steps)
	slices.Sort(invoked)
	slices.Sort(substituted)
	if len(steps) != 6 || !slices.Equal(invoked, steps) {
		t.Errorf("the state machine may invoke %v, the template's step functions are %v", invoked, steps)
	}
	if !slices.Equal(substituted, steps) {
		t.Errorf("the definition is given the ARNs of %v, the template's step functions are %v", substituted, steps)
	}
}

// TestSharedServicesRole: each application account's role in the
// shared-services template may send the document and read invocations,
// nothing else, and trusts only asgdns's functions of that account: by
// principal tag in organization mode (never by role name: CloudFormation
// truncates the names it generates), by listed ARN otherwise.
func TestSharedServicesRole(t *testing.T) {
	shared := resources(t, readTemplate(t, sharedTemplate))
	for id, r := range shared {
		if strings.HasPrefix(typeOf(r), "AWS::IAM::") && id != registrarRole {
			t.Errorf("%s: %s is an IAM resource this test does not pin", id, typeOf(r))
		}
	}
	role := shared[registrarRole]
	if typeOf(role) != "AWS::IAM::Role" {
		t.Fatalf("%s has no AWS::IAM::Role %s inside Fn::ForEach::Tenants", sharedTemplate, registrarRole)
	}
	if field(role, "Properties", "ManagedPolicyArns") != nil || field(role, "Properties", "PermissionsBoundary") != nil {
		t.Errorf("%s: managed policies are not pinned by this test: write the statements inline", registrarRole)
	}
	var actions []string
	for _, p := range items(field(role, "Properties", "Policies")) {
		actions = append(actions, allowed(t, registrarRole, field(p, "PolicyDocument"))...)
	}
	if actions = sortedSet(actions); !slices.Equal(actions, registrarActions) {
		t.Errorf("%s may use %v, want exactly %v", registrarRole, actions, registrarActions)
	}

	trust := items(field(role, "Properties", "AssumeRolePolicyDocument", "Statement"))
	if len(trust) != 1 {
		t.Fatalf("%s: %d trust statements, want 1", registrarRole, len(trust))
	}
	stmt := trust[0]
	if got := allowed(t, registrarRole+" trust", field(role, "Properties", "AssumeRolePolicyDocument")); !slices.Equal(sortedSet(got), registrarTrust) {
		t.Errorf("%s trust allows %v, want exactly %v", registrarRole, got, registrarTrust)
	}
	walk(stmt, func(n *yaml.Node) {
		operator := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(n.Value, "ForAnyValue:"), "ForAllValues:"), "IfExists")
		if strings.EqualFold(n.Value, "aws:PrincipalArn") || slices.Contains([]string{"ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals"}, operator) {
			t.Errorf("%s trust matches %q (line %d): trust asgdns's roles by principal tag or exact ARN, never by a name pattern", registrarRole, n.Value, n.Line)
		}
	})

	byOrg, byARN := ifOn(t, field(stmt, "Principal", "AWS"), "TrustByOrganization")
	if byOrg.Value != "*" || byARN.Tag != "!Ref" || byARN.Value != "TrustedRoleArns" {
		t.Errorf("%s trust principal: %q by organization, %s %q by ARN; want * (narrowed by conditions) and !Ref TrustedRoleArns",
			registrarRole, byOrg.Value, byARN.Tag, byARN.Value)
	}
	tagKey := ""
	orgCond, arnCond := ifOn(t, field(stmt, "Condition"), "TrustByOrganization")
	for mode, cond := range map[string]*yaml.Node{"organization": orgCond, "role ARN": arnCond} {
		withID, withoutID := ifOn(t, field(cond, "StringEquals"), "RequireExternalId")
		for _, v := range []struct {
			name   string
			equals *yaml.Node
			extID  bool
		}{{"with ExternalId", withID, true}, {"without ExternalId", withoutID, false}} {
			where := registrarRole + " trust, " + mode + " mode, " + v.name
			if !isRef(field(v.equals, "aws:PrincipalAccount"), "TenantAccountId") {
				t.Errorf("%s: no aws:PrincipalAccount = !Ref TenantAccountId: another account's functions could assume this role", where)
			}
			if got := isRef(field(v.equals, "sts:ExternalId"), "ExternalId"); got != v.extID {
				t.Errorf("%s: requires sts:ExternalId = !Ref ExternalId: %v, want %v", where, got, v.extID)
			}
			var ids []string
			for _, id := range items(field(cond, "StringLike", "sts:SourceIdentity")) {
				ids = append(ids, id.Value)
			}
			if !slices.Equal(sortedSet(ids), sourceIdentities) {
				t.Errorf("%s: sessions may carry SourceIdentity %v, want exactly asgdns's %v", where, ids, sourceIdentities)
			}
			if mode != "organization" {
				continue
			}
			if !isRef(field(v.equals, "aws:PrincipalOrgID"), "TrustedOrganizationId") {
				t.Errorf("%s: no aws:PrincipalOrgID = !Ref TrustedOrganizationId", where)
			}
			key, values := principalTag(v.equals)
			if key == "" || len(values) == 0 {
				t.Errorf("%s: no aws:PrincipalTag condition: any role of the account could assume this one", where)
				continue
			}
			tagKey = key
			if tagged := taggedFunctions(t, key); !slices.Equal(sortedSet(values), sortedSet(slices.Collect(maps.Values(tagged)))) {
				t.Errorf("%s: trusts %s in %v, but %s tags the functions %v", where, key, values, appTemplate, tagged)
			}
		}
	}
	if tagKey != "asgdns-function" {
		t.Errorf("organization mode trusts principal tag %q, want asgdns-function", tagKey)
	}
	// The functions the trust accepts are exactly the ones that assume the role.
	tagged := taggedFunctions(t, "asgdns-function")
	want := map[string]string{"AssumeRoleFunction": "AssumeRole", "SendCommandFunction": "SendCommand", "WaitForCommandFunction": "WaitForCommand",
		"ListZoneFunction": "ListZone"}
	if !maps.Equal(tagged, want) {
		t.Errorf("%s tags asgdns-function %v, want %v", appTemplate, tagged, want)
	}
	for id, actions := range applicationActions(t, readTemplate(t, appTemplate)) {
		assumes := slices.Contains(actions, "sts:AssumeRole")
		if _, ok := tagged[id]; ok != assumes {
			t.Errorf("%s: may assume the shared-services role: %v, carries the asgdns-function tag: %v", id, assumes, ok)
		}
	}
}

// TestNoListCommandInvocations: with --details it returns every Run Command
// output in the account; neither template grants it, in any form.
func TestNoListCommandInvocations(t *testing.T) {
	for _, path := range []string{appTemplate, sharedTemplate} {
		walk(readTemplate(t, path), func(n *yaml.Node) {
			if strings.Contains(strings.ToLower(n.Value), "listcommandinvocations") {
				t.Errorf("%s line %d: %q", path, n.Line, n.Value)
			}
		})
	}
}

// applicationActions collects, per function and state machine of the
// application template, the actions its role may use: its Policies
// (inline statements and SAM policy templates) and the AWS::IAM::RolePolicy
// resources attached to its generated role <Id>Role. Any other IAM resource
// is an error: this test could not pin what it grants.
func applicationActions(t *testing.T, root *yaml.Node) map[string][]string {
	t.Helper()
	res := resources(t, root)
	got := map[string][]string{}
	for id, r := range res {
		switch typeOf(r) {
		case "AWS::Serverless::Function", "AWS::Serverless::StateMachine":
			if field(r, "Properties", "Role") != nil {
				t.Errorf("%s: sets Role, so this test cannot see its permissions", id)
			}
			got[id] = append(got[id], samPolicies(t, id, field(r, "Properties", "Policies"))...)
		}
	}
	for id, r := range res {
		switch typeOf(r) {
		case "AWS::IAM::RolePolicy":
			role := field(r, "Properties", "RoleName")
			owner, ok := strings.CutSuffix(role.Value, "Role")
			if _, known := got[owner]; role.Tag != "!Ref" || !ok || !known {
				t.Errorf("%s: attaches to %s %q, not a function's generated role", id, role.Tag, role.Value)
				continue
			}
			got[owner] = append(got[owner], allowed(t, id, field(r, "Properties", "PolicyDocument"))...)
		default:
			if strings.HasPrefix(typeOf(r), "AWS::IAM::") {
				t.Errorf("%s: %s is an IAM resource this test does not pin", id, typeOf(r))
			}
		}
	}
	for id := range got {
		got[id] = sortedSet(got[id])
	}
	return got
}

// samPolicies is what a SAM Policies property allows: inline documents and
// known policy templates. A managed policy (a name or ARN) is an error.
func samPolicies(t *testing.T, id string, policies *yaml.Node) []string {
	t.Helper()
	if policies != nil && policies.Kind != yaml.SequenceNode {
		t.Errorf("%s: Policies is not a list", id)
		return nil
	}
	var actions []string
	for _, p := range items(policies) {
		if field(p, "Statement") != nil {
			actions = append(actions, allowed(t, id, p)...)
			continue
		}
		if p.Kind == yaml.MappingNode && len(p.Content) == 2 {
			if a, ok := samPolicyTemplates[p.Content[0].Value]; ok {
				actions = append(actions, a...)
				continue
			}
		}
		t.Errorf("%s: policy at line %d is neither an inline statement nor a known policy template: this test cannot pin what it grants", id, p.Line)
	}
	return actions
}

// allowed lists the actions a policy document's Allow statements grant.
// NotAction and NotResource grant what they do not name: an error.
func allowed(t *testing.T, where string, doc *yaml.Node) []string {
	t.Helper()
	var actions []string
	for _, s := range items(field(doc, "Statement")) {
		for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if field(s, k) != nil {
				t.Errorf("%s: statement at line %d uses %s", where, s.Line, k)
			}
		}
		if e := field(s, "Effect"); e == nil || e.Value != "Allow" {
			continue
		}
		for _, a := range items(field(s, "Action")) {
			if a.Kind != yaml.ScalarNode || a.Tag != "!!str" || strings.Contains(a.Value, "*") {
				t.Errorf("%s: action %s %q at line %d is not one literal action", where, a.Tag, a.Value, a.Line)
			}
			actions = append(actions, a.Value)
		}
	}
	return actions
}

// taggedFunctions maps each function of the application template that
// carries the tag to its value.
func taggedFunctions(t *testing.T, key string) map[string]string {
	t.Helper()
	tagged := map[string]string{}
	for id, r := range resources(t, readTemplate(t, appTemplate)) {
		if v := field(r, "Properties", "Tags", key); typeOf(r) == "AWS::Serverless::Function" && v != nil {
			tagged[id] = v.Value
		}
	}
	return tagged
}

// principalTag is a StringEquals block's aws:PrincipalTag/<key> condition.
func principalTag(equals *yaml.Node) (key string, values []string) {
	for i := 0; equals != nil && equals.Kind == yaml.MappingNode && i+1 < len(equals.Content); i += 2 {
		if k, ok := strings.CutPrefix(equals.Content[i].Value, "aws:PrincipalTag/"); ok {
			for _, v := range items(equals.Content[i+1]) {
				values = append(values, v.Value)
			}
			return k, values
		}
	}
	return "", nil
}

// --- Reading templates as YAML nodes --------------------------------------
//
// CloudFormation's short forms (!Ref, !Sub, !If, !GetAtt) are YAML tags: a
// node keeps its kind (scalar, sequence, mapping) and carries the tag, so
// !Ref X reads as the scalar X tagged !Ref, and !If [c, a, b] as a sequence.

// readTemplate parses a template into its top-level mapping.
func readTemplate(t *testing.T, path string) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc.Content[0]
}

// resources returns a template's resources by logical id, each
// Fn::ForEach loop's entries under their templated ids
// (RegistrarRole&{TenantAccountId}).
func resources(t *testing.T, root *yaml.Node) map[string]*yaml.Node {
	t.Helper()
	res := map[string]*yaml.Node{}
	var add func(m *yaml.Node)
	add = func(m *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			id, v := m.Content[i].Value, m.Content[i+1]
			if strings.HasPrefix(id, "Fn::ForEach::") {
				if v.Kind != yaml.SequenceNode || len(v.Content) != 3 || v.Content[2].Kind != yaml.MappingNode {
					t.Fatalf("%s (line %d) is not [identifier, collection, resources]", id, v.Line)
				}
				add(v.Content[2])
				continue
			}
			res[id] = v
		}
	}
	add(field(root, "Resources"))
	return res
}

// field follows mapping keys from n; nil when one is missing.
func field(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// items is a list's elements, or a single value as a list of one (IAM
// accepts both for Statement and Action).
func items(n *yaml.Node) []*yaml.Node {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode:
		return n.Content
	}
	return []*yaml.Node{n}
}

func typeOf(r *yaml.Node) string {
	if n := field(r, "Type"); n != nil {
		return n.Value
	}
	return ""
}

// ifOn returns the branches of !If [cond, then, else].
func ifOn(t *testing.T, n *yaml.Node, cond string) (then, otherwise *yaml.Node) {
	t.Helper()
	if n == nil || n.Tag != "!If" || len(n.Content) != 3 || n.Content[0].Value != cond {
		line := 0
		if n != nil {
			line = n.Line
		}
		t.Fatalf("line %d: want !If [%s, …, …]", line, cond)
	}
	return n.Content[1], n.Content[2]
}

func isRef(n *yaml.Node, name string) bool { return n != nil && n.Tag == "!Ref" && n.Value == name }

// walk calls fn on n and every node below it.
func walk(n *yaml.Node, fn func(*yaml.Node)) {
	fn(n)
	for _, c := range n.Content {
		walk(c, fn)
	}
}

func sortedSet(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
