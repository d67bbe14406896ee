package stack

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/local/cfn"
	"github.com/asgdns/asgdns/local/cloud"
)

// versionsDC is TestSafeDeploy's own domain controller: unreachable while
// its launch is held, so no other test's DC changes.
const versionsDC = "i-0dc0000000000d001"

// version2Marker goes into the Comment of the definition
// TestSafeDeploy deploys as version 2: the same workflow, a new revision.
const version2Marker = "(TestSafeDeploy: version 2)"

// TestSafeDeploy: the template's AutoPublishAlias and UseAliasAsEventTarget.
// A launch is held (its DC unreachable) on version 1, started by the rule
// through the alias live. Version 2 is deployed (a new definition, the alias
// moved): the held execution keeps version 1 and completes on it; the next
// launch runs version 2 through the alias; `asgdns executions` lists both,
// with their versions. Then the deployment is rolled back: the alias points
// to version 1 again. Version 2 differs only in its Comment, so the other
// tests, whose events meanwhile run it, are unaffected.
func TestSafeDeploy(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 10*time.Minute)
	d := h.s.Deployments[0]
	alias, v1 := d.StateMachineARN+":live", d.StateMachineARN+":1"
	if got, err := h.sfn.DescribeStateMachineAlias(ctx, &sfn.DescribeStateMachineAliasInput{StateMachineAliasArn: aws.String(alias)}); err != nil ||
		len(got.RoutingConfiguration) != 1 || aws.ToString(got.RoutingConfiguration[0].StateMachineVersionArn) != v1 {
		t.Fatalf("the deployment's alias live = %+v, %v; want it on %s", got, err, v1)
	}

	if err := h.s.Cloud.RegisterDC(versionsDC, "Linux"); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Cloud.SetReachability(versionsDC, cloud.Undeliverable); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Second)
	createGroup(ctx, t, asgVersions, 2, 1, standardHooks(`{"dcInstanceIds":["`+versionsDC+`"]}`))
	held := waitHeld(ctx, t, asgVersions, since, 1)[0]
	wantVersion(ctx, t, held.ARN, v1, alias, false)

	// Deploy version 2 while the launch is held on version 1.
	v2, err := d.deployDefinition(ctx, version2Marker)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Roll back: the alias to version 1, as a rollback deploys it.
		if _, err := d.StepFunctions.SetAlias(d.StateMachineARN, "live", v1); err != nil {
			t.Error(err)
		}
	})
	if v2 != d.StateMachineARN+":2" {
		t.Fatalf("deployed %s, want version 2", v2)
	}
	if err := h.s.Cloud.SetReachability(versionsDC, cloud.Reachable); err != nil {
		t.Fatal(err)
	}
	first := waitExecution(ctx, t, held.ARN)
	if first.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("the held launch: %v, want SUCCEEDED", first)
	}
	wantVersion(ctx, t, held.ARN, v1, alias, false)

	// A new event runs version 2 through the alias.
	next := time.Now().Add(-time.Second)
	setDesired(ctx, t, asgVersions, 2)
	second := waitExecutions(ctx, t, asgVersions, next, 1, ofTransition("launch"))[0]
	if second.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("the launch after the deploy: %v, want SUCCEEDED", second)
	}
	wantVersion(ctx, t, second.ARN, v2, alias, true)

	// asgdns executions lists both, by the stack, with their versions.
	out, stderr, code := asgdns(t, "executions", "--stack", d.StackName, "--asg", asgVersions, "--json", "--read-rate", "200")
	if code != 0 {
		t.Fatalf("asgdns executions: exit %d: %s", code, stderr)
	}
	var doc struct {
		StateMachineARN string `json:"stateMachineArn"`
		Executions      []struct {
			ARN        string `json:"executionArn"`
			Transition string `json:"transition"`
			Version    *int   `json:"version"`
			AliasARN   string `json:"stateMachineAliasArn"`
		} `json:"executions"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("asgdns executions --json: %v\n%s", err, out)
	}
	versions := map[string]int{}
	for _, e := range doc.Executions {
		if e.Transition == "launch" && e.Version != nil && e.AliasARN == alias {
			versions[e.ARN] = *e.Version
		}
	}
	if doc.StateMachineARN != d.StateMachineARN || versions[held.ARN] != 1 || versions[second.ARN] != 2 {
		t.Errorf("asgdns executions of %s: versions %v; want %s on 1 and %s on 2\n%s", doc.StateMachineARN, versions, held.ARN, second.ARN, out)
	}
	drainGroup(ctx, t, asgVersions)
}

// wantVersion checks the version and alias an execution was started
// through, and whether it runs version 2's definition.
func wantVersion(ctx context.Context, t *testing.T, arn, version, alias string, v2 bool) {
	t.Helper()
	d, err := h.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.StateMachineVersionArn) != version || aws.ToString(d.StateMachineAliasArn) != alias {
		t.Errorf("%s: version %s alias %s; want %s %s", arn, aws.ToString(d.StateMachineVersionArn), aws.ToString(d.StateMachineAliasArn), version, alias)
	}
	def, err := h.sfn.DescribeStateMachineForExecution(ctx, &sfn.DescribeStateMachineForExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Contains(aws.ToString(def.Definition), version2Marker); got != v2 {
		t.Errorf("%s runs version 2's definition: %v, want %v", arn, got, v2)
	}
}

// deployDefinition deploys the template's definition with marker added to
// its Comment, as `sam deploy` does with AutoPublishAlias: the state
// machine updated, a version published from the new revision, the alias
// moved to it. It returns the new version's ARN.
func (d *Deployment) deployDefinition(_ context.Context, marker string) (string, error) {
	template := filepath.Join(h.root, "template.yaml")
	app, err := cfn.LoadAppStack(template, cfn.AppDeployment{Region: Region, Account: d.Account, StackName: d.StackName, StateMachineName: StateMachineName},
		appParameters(Options{ASGNames: asgNames}), func(id string) string { return functionARN(d.Account, id) })
	if err != nil {
		return "", err
	}
	raw, err := os.ReadFile(filepath.Join(h.root, app.DefinitionURI))
	if err != nil {
		return "", err
	}
	var def map[string]any
	if err := json.Unmarshal(raw, &def); err != nil {
		return "", err
	}
	def["Comment"] = def["Comment"].(string) + " " + marker
	changed, err := json.Marshal(def)
	if err != nil {
		return "", err
	}
	if err := d.StepFunctions.UpdateStateMachine(d.StateMachineARN, changed, app.Substitutions); err != nil {
		return "", err
	}
	version, err := d.StepFunctions.PublishVersion(d.StateMachineARN, marker)
	if err != nil {
		return "", err
	}
	if _, err := d.StepFunctions.SetAlias(d.StateMachineARN, app.AutoPublishAlias, version); err != nil {
		return "", err
	}
	return version, nil
}
