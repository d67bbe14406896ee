package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"gopkg.in/yaml.v3"

	"github.com/asgdns/asgdns/local/cloud"
)

// localParameters are the application stack's parameters for the local
// deployment (what samconfig.toml would say for it): the template's
// defaults apply to everything else.
var localParameters = map[string]string{
	"SharedServicesAccountId": SharedAccount, "ExternalId": ExternalID, "Zone": Zone,
	"DcInstanceIds": DC, "DcPlatform": "Linux", "CreatePtr": "true",
	"HoldBudgetSeconds": fmt.Sprint(int(HoldBudget.Seconds())),
}

// deploymentDiffers are the only variables the stack gives a function
// beyond its template configuration: where AWS is, and credentials (which
// in Lambda come from the execution role, with a session token).
var deploymentDiffers = []string{"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}

// lambdaVariables are the reserved variables Lambda itself sets for a
// function on a custom runtime (provided.al2023), which the host sets too.
// (Lambda sets more that the local host does not: AWS_SESSION_TOKEN, the
// X-Ray variables, AWS_LAMBDA_LOG_LEVEL when ApplicationLogLevel is set.)
var lambdaVariables = []string{
	"PATH", "LANG", "TZ", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_RUNTIME_API",
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_REGION", "AWS_DEFAULT_REGION",
}

// TestFunctionsRunUnchanged proves the stack runs the functions as a
// deployment would, observing the running sandboxes from outside (their
// /proc entries), not the host's configuration:
//   - each function's environment is exactly its template
//     Environment.Variables, evaluated with the local parameters, plus
//     AWS_ENDPOINT_URL and credentials (of the function's own role), plus
//     Lambda's reserved variables;
//   - each binary is byte for byte what `make build-<LogicalId>` (SAM's
//     makefile build) produces from the same sources with the Makefile's
//     flags, for this machine's architecture.
func TestFunctionsRunUnchanged(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 10*time.Minute)
	since := time.Now().Add(-time.Second)

	// One launch runs all six step functions, so each has a sandbox: its DC
	// cannot be reached until the instance is held once (HoldInstance).
	const dc = "i-0dc00000000000005"
	if err := h.s.Cloud.RegisterDC(dc, "Linux"); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Cloud.SetReachability(dc, cloud.Undeliverable); err != nil {
		t.Fatal(err)
	}
	createGroup(ctx, t, asgEnv, 2, 1, standardHooks(`{"dcInstanceIds":["`+dc+`"]}`))
	waitHeld(ctx, t, asgEnv, since, 1)
	if err := h.s.Cloud.SetReachability(dc, cloud.Reachable); err != nil {
		t.Fatal(err)
	}
	launch := waitExecutions(ctx, t, asgEnv, since, 1, ofTransition("launch"))[0]
	if launch.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("launch execution %v, want SUCCEEDED", launch)
	}
	// The reconciler and the two functions it invokes are no steps: one
	// report run of this test's group gives each a sandbox (report
	// repairs nothing; the dead-letter queue is empty here). Its outcome
	// is not this test's subject, only that they run as deployed.
	report, err := h.s.Lambdas.Invoke(ctx, functionName("ReconcileFunction"),
		[]byte(`{"mode":"report","asg":"`+asgEnv+`","run":"unchanged","drainDeadLetters":true}`))
	t.Logf("reconcile report run: %.300s (%v)", report, err)

	tmpl := loadTemplate(t, filepath.Join(h.root, "template.yaml"))
	if len(tmpl.functions) != 9 {
		t.Fatalf("template.yaml has %d functions, want 9 (six steps, the reconciler and the two it invokes)", len(tmpl.functions))
	}
	running := map[string][]sandbox{}
	for _, sb := range sandboxes(t) {
		running[sb.name] = append(running[sb.name], sb)
	}

	for _, fn := range tmpl.functions {
		name := functionName(fn.logicalID)
		list := running[name]
		if len(list) == 0 {
			t.Errorf("%s (%s): no sandbox running", fn.logicalID, name)
			continue
		}
		for _, sb := range list {
			checkEnvironment(t, tmpl, fn, sb)
		}
		t.Logf("%s: %d sandbox(es); template variables %v", name, len(list), slices.Sorted(maps.Keys(fn.env)))
		// The credentials are the function's own role's, as Lambda's are.
		cfg := h.cfg.Copy()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(list[0].env["AWS_ACCESS_KEY_ID"], list[0].env["AWS_SECRET_ACCESS_KEY"], "")
		who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		role := h.s.FunctionRoleARN(fn.logicalID)
		roleName := role[strings.LastIndex(role, "/")+1:]
		if err != nil || aws.ToString(who.Account) != AppAccount || !strings.Contains(aws.ToString(who.Arn), ":assumed-role/"+roleName+"/") {
			t.Errorf("%s: its credentials are %v (%v), want a session of its own role %s", name, who, err, role)
		}
	}
	if t.Failed() {
		return
	}

	// The binaries: SAM builds each function with `make
	// build-<LogicalId>` (Metadata BuildMethod makefile); the Makefile
	// targets linux/arm64, so its LAMBDA_ENV is set to this machine's
	// GOOS/GOARCH and nothing else.
	out := t.TempDir()
	for _, fn := range tmpl.functions {
		if fn.buildMethod != "makefile" {
			t.Errorf("%s: BuildMethod %q, want makefile", fn.logicalID, fn.buildMethod)
			continue
		}
		dir := filepath.Join(out, fn.logicalID)
		build := exec.Command("make", "--no-print-directory", "build-"+fn.logicalID, "ARTIFACTS_DIR="+dir,
			"LAMBDA_ENV=GOOS="+runtime.GOOS+" GOARCH="+runtime.GOARCH+" CGO_ENABLED=0")
		build.Dir = h.root
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("make build-%s: %v\n%s", fn.logicalID, err, b)
		}
		want := fileSHA256(t, filepath.Join(dir, "bootstrap"))
		t.Logf("make build-%s: sha256 %s", fn.logicalID, want[:16])
		for _, sb := range running[functionName(fn.logicalID)] {
			// /proc/PID/exe is the image the process runs, even if the
			// file was replaced since.
			if got := fileSHA256(t, fmt.Sprintf("/proc/%d/exe", sb.pid)); got != want {
				t.Errorf("%s: sandbox %d runs %s (sha256 %s), but make build-%s produces sha256 %s",
					fn.logicalID, sb.pid, sb.exe, got[:16], fn.logicalID, want[:16])
			}
		}
	}
}

func checkEnvironment(t *testing.T, tmpl *appTemplate, fn templateFunction, sb sandbox) {
	t.Helper()
	name := functionName(fn.logicalID)
	want := maps.Clone(fn.env)
	want["AWS_ENDPOINT_URL"] = h.s.URL
	// Lambda's reserved variables, with the values that follow from the
	// template (or from being Lambda).
	want["_HANDLER"] = tmpl.handler
	want["AWS_LAMBDA_FUNCTION_NAME"] = name
	want["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = tmpl.memorySize
	want["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
	want["AWS_LAMBDA_LOG_FORMAT"] = tmpl.logFormat
	want["AWS_REGION"] = Region
	want["AWS_DEFAULT_REGION"] = Region
	want["LAMBDA_TASK_ROOT"] = filepath.Dir(sb.exe)

	for k, v := range want {
		if got, ok := sb.env[k]; !ok || got != v {
			t.Errorf("%s (sandbox %d): %s = %q (set %v), want %q", name, sb.pid, k, got, ok, v)
		}
	}
	for k, v := range sb.env {
		_, fromTemplate := fn.env[k]
		if !fromTemplate && !slices.Contains(deploymentDiffers, k) && !slices.Contains(lambdaVariables, k) {
			t.Errorf("%s (sandbox %d): %s=%q is neither in its template Environment, nor AWS_ENDPOINT_URL or credentials, nor a Lambda variable", name, sb.pid, k, v)
		}
	}
	for _, k := range append(slices.Clone(deploymentDiffers), lambdaVariables...) {
		if sb.env[k] == "" {
			t.Errorf("%s (sandbox %d): %s is not set", name, sb.pid, k)
		}
	}
	if !regexp.MustCompile(`^127\.0\.0\.1:[0-9]+$`).MatchString(sb.env["AWS_LAMBDA_RUNTIME_API"]) {
		t.Errorf("%s: AWS_LAMBDA_RUNTIME_API = %q", name, sb.env["AWS_LAMBDA_RUNTIME_API"])
	}
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// --- template.yaml, read independently of the stack's own loader -------------

type appTemplate struct {
	handler, memorySize, logFormat string // Globals.Function
	functions                      []templateFunction
}

type templateFunction struct {
	logicalID   string
	buildMethod string
	env         map[string]string // Environment.Variables, evaluated
}

// loadTemplate reads the functions of template.yaml and evaluates their
// Environment.Variables (!Ref and !Sub of parameters and pseudo
// parameters) with localParameters over the parameters' defaults.
func loadTemplate(t *testing.T, path string) *appTemplate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	params := map[string]string{
		"AWS::Partition": "aws", "AWS::Region": Region, "AWS::AccountId": AppAccount, "AWS::URLSuffix": "amazonaws.com",
	}
	for name, p := range pairs(get(root, "Parameters")) {
		if def := get(p, "Default"); def != nil {
			params[name] = def.Value
		}
	}
	maps.Copy(params, localParameters)
	// What Ref returns for the resources a function's environment names,
	// as the primary deployment created them (not as the stack's template
	// loader computes them: this checks that it computes them right).
	params["AsgNames"] = strings.Join(asgNames, ",") // the stack's Options.ASGNames
	params["DnsRegistrationAliaslive"] = h.s.Deployments[0].StateMachineAliasARN
	params["UndeliveredEvents"] = h.s.Deployments[0].UndeliveredEventsQueueURL
	for _, id := range []string{"ListZoneFunction", "DrainDeadLettersFunction"} {
		params[id] = functionName(id) // Ref of a function is its name
	}

	globals := get(get(root, "Globals"), "Function")
	tmpl := &appTemplate{
		handler: scalar(t, get(globals, "Handler")), memorySize: scalar(t, get(globals, "MemorySize")),
		logFormat: scalar(t, get(get(globals, "LoggingConfig"), "LogFormat")),
	}
	if get(globals, "Environment") != nil {
		t.Fatal("template.yaml: Globals.Function.Environment is not handled by this test")
	}
	for id, res := range pairs(get(root, "Resources")) {
		if typ := get(res, "Type"); typ == nil || typ.Value != "AWS::Serverless::Function" {
			continue
		}
		props := get(res, "Properties")
		if get(props, "MemorySize") != nil || get(props, "Handler") != nil {
			t.Fatalf("template.yaml: %s overrides MemorySize or Handler: not handled by this test", id)
		}
		fn := templateFunction{logicalID: id, env: map[string]string{}}
		if m := get(get(res, "Metadata"), "BuildMethod"); m != nil {
			fn.buildMethod = m.Value
		}
		for k, v := range pairs(get(get(props, "Environment"), "Variables")) {
			fn.env[k] = evaluate(t, v, params)
		}
		tmpl.functions = append(tmpl.functions, fn)
	}
	return tmpl
}

// get is a mapping node's value for key (nil if absent or not a mapping).
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// pairs iterates a mapping node in document order.
func pairs(n *yaml.Node) func(yield func(string, *yaml.Node) bool) {
	return func(yield func(string, *yaml.Node) bool) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !yield(n.Content[i].Value, n.Content[i+1]) {
				return
			}
		}
	}
}

func scalar(t *testing.T, n *yaml.Node) string {
	t.Helper()
	if n == nil || n.Kind != yaml.ScalarNode {
		t.Fatalf("template.yaml: want a plain value, got %+v", n)
	}
	return n.Value
}

var subVariable = regexp.MustCompile(`\$\{([^}]+)\}`)

// evaluate is CloudFormation's value of a scalar, !Ref, !Sub, or !Join of
// a list parameter (a !Ref of a CommaDelimitedList is its comma-separated
// value here).
func evaluate(t *testing.T, n *yaml.Node, params map[string]string) string {
	t.Helper()
	if n.Kind == yaml.SequenceNode && n.Tag == "!Join" && len(n.Content) == 2 && n.Content[1].Tag == "!Ref" {
		return strings.Join(strings.Split(evaluate(t, n.Content[1], params), ","), n.Content[0].Value)
	}
	if n.Kind != yaml.ScalarNode {
		t.Fatalf("template.yaml: line %d: only scalars, !Ref and !Sub strings, and !Join of a list parameter are handled", n.Line)
	}
	switch n.Tag {
	case "!Ref":
		v, ok := params[n.Value]
		if !ok {
			t.Fatalf("template.yaml: line %d: !Ref %s is not a parameter", n.Line, n.Value)
		}
		return v
	case "!Sub":
		return subVariable.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := m[2 : len(m)-1]
			v, ok := params[name]
			if !ok {
				t.Fatalf("template.yaml: line %d: ${%s} is not a parameter", n.Line, name)
			}
			return v
		})
	}
	return n.Value
}
