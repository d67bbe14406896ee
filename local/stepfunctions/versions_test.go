package stepfunctions_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/local/asl"
)

// definitionV2 is a second deployment of the test machine: no Task, a
// marker in the output.
const definitionV2 = `{"StartAt": "V2", "States": {"V2": {"Type": "Pass", "Result": "v2", "ResultPath": "$.v2", "End": true}}}`

// TestVersionsAndAliases deploys as SAM's AutoPublishAlias does (publish
// version 1, alias live → 1), starts through the alias, deploys version 2
// and moves the alias while executions of version 1 are in flight or
// failed, and checks what each execution runs, reports and lists.
func TestVersionsAndAliases(t *testing.T) {
	w := newWorld(t)
	v1, err := w.client.PublishStateMachineVersion(ctx, &sfn.PublishStateMachineVersionInput{StateMachineArn: aws.String(w.smArn), Description: aws.String("first")})
	if err != nil {
		t.Fatal(err)
	}
	v1Arn := aws.ToString(v1.StateMachineVersionArn)
	if v1Arn != w.smArn+":1" {
		t.Fatalf("version 1 = %s", v1Arn)
	}
	// Publishing an unchanged revision returns the same version.
	again, err := w.client.PublishStateMachineVersion(ctx, &sfn.PublishStateMachineVersionInput{StateMachineArn: aws.String(w.smArn)})
	if err != nil || aws.ToString(again.StateMachineVersionArn) != v1Arn {
		t.Fatalf("publish again = %v, %v; want %s", again, err, v1Arn)
	}
	created, err := w.client.CreateStateMachineAlias(ctx, &sfn.CreateStateMachineAliasInput{
		Name:                 aws.String("live"),
		RoutingConfiguration: []types.RoutingConfigurationListItem{{StateMachineVersionArn: aws.String(v1Arn), Weight: 100}},
	})
	if err != nil {
		t.Fatal(err)
	}
	aliasArn := aws.ToString(created.StateMachineAliasArn)
	if aliasArn != w.smArn+":live" {
		t.Fatalf("alias = %s", aliasArn)
	}

	// On version 1 through the alias: one held (blocks in its Task), one
	// that fails.
	start := func(arn, name, input string) string {
		t.Helper()
		out, err := w.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String(name), Input: aws.String(input)})
		if err != nil {
			t.Fatalf("start %s on %s: %v", name, arn, err)
		}
		return aws.ToString(out.ExecutionArn)
	}
	held := start(aliasArn, "held", `{"block": true}`)
	w.fault("flaky", true)
	flaky := start(aliasArn, "flaky", `{}`)
	if res := w.wait(flaky); res.Status != asl.StatusFailed {
		t.Fatalf("flaky: %s", res.Status)
	}

	// Deploy version 2 and move the alias.
	if err := w.svc.UpdateStateMachine(w.smArn, []byte(definitionV2), nil); err != nil {
		t.Fatal(err)
	}
	sm, err := w.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(w.smArn)})
	if err != nil {
		t.Fatal(err)
	}
	// A stale revision id is a conflict.
	_, err = w.client.PublishStateMachineVersion(ctx, &sfn.PublishStateMachineVersionInput{StateMachineArn: aws.String(w.smArn), RevisionId: aws.String("stale")})
	wantCode(t, err, "ConflictException")
	v2, err := w.client.PublishStateMachineVersion(ctx, &sfn.PublishStateMachineVersionInput{StateMachineArn: aws.String(w.smArn), RevisionId: sm.RevisionId})
	if err != nil {
		t.Fatal(err)
	}
	v2Arn := aws.ToString(v2.StateMachineVersionArn)
	if v2Arn != w.smArn+":2" {
		t.Fatalf("version 2 = %s", v2Arn)
	}
	if _, err := w.client.UpdateStateMachineAlias(ctx, &sfn.UpdateStateMachineAliasInput{
		StateMachineAliasArn: aws.String(aliasArn),
		RoutingConfiguration: []types.RoutingConfigurationListItem{{StateMachineVersionArn: aws.String(v2Arn), Weight: 100}},
	}); err != nil {
		t.Fatal(err)
	}
	desc, err := w.client.DescribeStateMachineAlias(ctx, &sfn.DescribeStateMachineAliasInput{StateMachineAliasArn: aws.String(aliasArn)})
	if err != nil || len(desc.RoutingConfiguration) != 1 || aws.ToString(desc.RoutingConfiguration[0].StateMachineVersionArn) != v2Arn || aws.ToString(desc.Name) != "live" {
		t.Fatalf("alias after the move = %+v, %v", desc, err)
	}
	// Version 1 still describes the first definition.
	d1, err := w.client.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(v1Arn)})
	if err != nil || !strings.Contains(aws.ToString(d1.Definition), `"Work"`) || aws.ToString(d1.Description) != "first" {
		t.Fatalf("version 1 = %v, %v", d1, err)
	}

	// New executions through the alias run version 2.
	fresh := start(aliasArn, "fresh", `{}`)
	if res := w.wait(fresh); res.Status != asl.StatusSucceeded || !strings.Contains(string(res.Output), `"v2":"v2"`) {
		t.Fatalf("fresh on the alias: %s %s", res.Status, res.Output)
	}
	// The unqualified ARN runs the latest revision, on no version.
	plain := start(w.smArn, "plain", `{}`)
	w.wait(plain)

	// The held execution keeps version 1 (still in its Task), and so does
	// the failed one when it is redriven after the alias moved.
	for _, tc := range []struct {
		arn, version string
		alias        string
	}{{held, v1Arn, aliasArn}, {flaky, v1Arn, aliasArn}, {fresh, v2Arn, aliasArn}, {plain, "", ""}} {
		d := w.describe(tc.arn)
		if aws.ToString(d.StateMachineVersionArn) != tc.version || aws.ToString(d.StateMachineAliasArn) != tc.alias || aws.ToString(d.StateMachineArn) != w.smArn {
			t.Errorf("%s: version %v alias %v machine %v; want %q %q", tc.arn, d.StateMachineVersionArn, d.StateMachineAliasArn, aws.ToString(d.StateMachineArn), tc.version, tc.alias)
		}
	}
	forHeld, err := w.client.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: aws.String(held)})
	if err != nil || !strings.Contains(aws.ToString(forHeld.Definition), `"Work"`) {
		t.Errorf("definition of the held execution = %v, %v", forHeld, err)
	}
	w.fault("flaky", false)
	if _, err := w.client.RedriveExecution(ctx, &sfn.RedriveExecutionInput{ExecutionArn: aws.String(flaky)}); err != nil {
		t.Fatal(err)
	}
	if res := w.wait(flaky); res.Status != asl.StatusSucceeded || !strings.Contains(string(res.Output), `"attempt":2`) || strings.Contains(string(res.Output), "v2") {
		t.Errorf("redriven flaky: %s %s (want version 1's Task)", res.Status, res.Output)
	}

	// ListExecutions: the unqualified ARN lists all; a version or alias
	// ARN, those started through it. Items carry the version and alias.
	list := func(arn string) map[string]types.ExecutionListItem {
		t.Helper()
		out, err := w.client.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("list %s: %v", arn, err)
		}
		m := map[string]types.ExecutionListItem{}
		for _, it := range out.Executions {
			m[aws.ToString(it.Name)] = it
		}
		return m
	}
	for arn, want := range map[string][]string{
		w.smArn:  {"held", "flaky", "fresh", "plain"},
		v1Arn:    {"held", "flaky"},
		v2Arn:    {"fresh"},
		aliasArn: {"held", "flaky", "fresh"},
	} {
		got := list(arn)
		if len(got) != len(want) {
			t.Errorf("list %s = %d executions, want %v", arn, len(got), want)
		}
		for _, name := range want {
			if _, ok := got[name]; !ok {
				t.Errorf("list %s misses %s", arn, name)
			}
		}
	}
	all := list(w.smArn)
	if it := all["held"]; aws.ToString(it.StateMachineVersionArn) != v1Arn || aws.ToString(it.StateMachineAliasArn) != aliasArn {
		t.Errorf("held item: version %v alias %v", it.StateMachineVersionArn, it.StateMachineAliasArn)
	}
	if it := all["plain"]; it.StateMachineVersionArn != nil || it.StateMachineAliasArn != nil {
		t.Errorf("plain item: version %v alias %v", it.StateMachineVersionArn, it.StateMachineAliasArn)
	}

	// Versions newest first; the alias listed.
	versions, err := w.client.ListStateMachineVersions(ctx, &sfn.ListStateMachineVersionsInput{StateMachineArn: aws.String(w.smArn)})
	if err != nil || len(versions.StateMachineVersions) != 2 || aws.ToString(versions.StateMachineVersions[0].StateMachineVersionArn) != v2Arn {
		t.Errorf("versions = %+v, %v", versions, err)
	}
	aliases, err := w.client.ListStateMachineAliases(ctx, &sfn.ListStateMachineAliasesInput{StateMachineArn: aws.String(w.smArn)})
	if err != nil || len(aliases.StateMachineAliases) != 1 || aws.ToString(aliases.StateMachineAliases[0].StateMachineAliasArn) != aliasArn {
		t.Errorf("aliases = %+v, %v", aliases, err)
	}

	// The Go API a deployment uses: SetAlias moves the alias back.
	if got, err := w.svc.SetAlias(w.smArn, "live", v1Arn); err != nil || got != aliasArn {
		t.Fatalf("SetAlias = %s, %v", got, err)
	}
	back := start(aliasArn, "back", `{}`)
	if res := w.wait(back); res.Status != asl.StatusSucceeded || strings.Contains(string(res.Output), "v2") {
		t.Errorf("after rollback: %s %s", res.Status, res.Output)
	}

	if _, err := w.client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(held)}); err != nil {
		t.Fatal(err)
	}
	if d := w.describe(held); d.Status != types.ExecutionStatusAborted || aws.ToString(d.StateMachineVersionArn) != v1Arn {
		t.Errorf("held after stop: %s %v", d.Status, d.StateMachineVersionArn)
	}
}

func TestVersionAndAliasErrors(t *testing.T) {
	w := newWorld(t)
	v1, err := w.svc.PublishVersion(w.smArn, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"an all-digit alias name", func() error {
			_, err := w.client.CreateStateMachineAlias(ctx, &sfn.CreateStateMachineAliasInput{Name: aws.String("2"),
				RoutingConfiguration: []types.RoutingConfigurationListItem{{StateMachineVersionArn: aws.String(v1), Weight: 100}}})
			return err
		}, "ValidationException"},
		{"weights not adding up to 100", func() error {
			_, err := w.client.CreateStateMachineAlias(ctx, &sfn.CreateStateMachineAliasInput{Name: aws.String("half"),
				RoutingConfiguration: []types.RoutingConfigurationListItem{{StateMachineVersionArn: aws.String(v1), Weight: 50}}})
			return err
		}, "ValidationException"},
		{"an alias of an unknown version", func() error {
			_, err := w.client.CreateStateMachineAlias(ctx, &sfn.CreateStateMachineAliasInput{Name: aws.String("live"),
				RoutingConfiguration: []types.RoutingConfigurationListItem{{StateMachineVersionArn: aws.String(w.smArn + ":9"), Weight: 100}}})
			return err
		}, "ResourceNotFound"},
		{"describe an unknown alias", func() error {
			_, err := w.client.DescribeStateMachineAlias(ctx, &sfn.DescribeStateMachineAliasInput{StateMachineAliasArn: aws.String(w.smArn + ":nope")})
			return err
		}, "ResourceNotFound"},
		{"start an unknown version", func() error {
			_, err := w.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(w.smArn + ":2")})
			return err
		}, "StateMachineDoesNotExist"},
		{"start an unknown alias", func() error {
			_, err := w.client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(w.smArn + ":live")})
			return err
		}, "StateMachineDoesNotExist"},
		{"publish a version of a version", func() error {
			_, err := w.client.PublishStateMachineVersion(ctx, &sfn.PublishStateMachineVersionInput{StateMachineArn: aws.String(v1)})
			return err
		}, "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.call(), tc.code) })
	}

	// Creating the same alias twice is idempotent; differently, a conflict.
	create := func(weightV1 int32, v2 string) error {
		rc := []types.RoutingConfigurationListItem{{StateMachineVersionArn: aws.String(v1), Weight: weightV1}}
		if v2 != "" {
			rc = append(rc, types.RoutingConfigurationListItem{StateMachineVersionArn: aws.String(v2), Weight: 100 - weightV1})
		}
		_, err := w.client.CreateStateMachineAlias(ctx, &sfn.CreateStateMachineAliasInput{Name: aws.String("live"), RoutingConfiguration: rc})
		return err
	}
	if err := create(100, ""); err != nil {
		t.Fatal(err)
	}
	if err := create(100, ""); err != nil {
		t.Errorf("the same alias again: %v", err)
	}
	if err := w.svc.UpdateStateMachine(w.smArn, []byte(definitionV2), nil); err != nil {
		t.Fatal(err)
	}
	v2, err := w.svc.PublishVersion(w.smArn, "")
	if err != nil {
		t.Fatal(err)
	}
	var conflict *types.ConflictException
	if err := create(50, v2); !errors.As(err, &conflict) {
		t.Errorf("a different alias of the same name = %v, want ConflictException", err)
	}
}
