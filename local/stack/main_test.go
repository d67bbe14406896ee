package stack

// The harness every test and benchmark of this package shares: one stack
// per test binary (TestMain), clients of it over real HTTP, and helpers to
// wait for what the workflow does. Each test works on Auto Scaling groups
// of its own (asgNames), so tests never see each other's instances; what
// they share (the one state machine, the DCs, the functions' roles) they
// only read, or change in ways scoped to their own group.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// The Auto Scaling groups of the tests and benchmarks: the deployment's
// AsgNames, so the EventBridge rule matches all of them.
const (
	asgCLI            = "cli-web"
	asgSDK            = "sdk-web"
	asgEnv            = "env-web"
	asgUnreachCont    = "unreach-continue"
	asgUnreachAbandon = "unreach-abandon"
	asgGone           = "gone-term"
	asgExpired        = "expired-launch"
	asgRedriveTerm    = "redrive-term"
	asgBenchLatency   = "bench-latency"
	asgBenchBurst     = "bench-burst"
	asgTenant         = "tenant-web" // in both application accounts
	asgLeak           = "tsig-leak"
	asgOutage         = "outage-web"
	asgForeignHook    = "foreign-hook"
	asgVersions       = "versions-web"

	// The reconciler's proofs (reconcile_test.go): one group each.
	asgRecMissing = "rec-missing"
	asgRecGone    = "rec-gone"
	asgRecWiped   = "rec-wiped"
	asgRecForeign = "rec-foreign"
	asgRecCap     = "rec-cap"
	asgRecDLQ     = "rec-dlq"
	asgRecReport  = "rec-report"
	asgBenchRec   = "bench-reconcile"
)

// The groups of BenchmarkThrottledBurst: a burst across several ASGs.
var asgBenchThrottled = []string{"bench-throttled-a", "bench-throttled-b", "bench-throttled-c", "bench-throttled-d"}

var asgNames = []string{
	asgCLI, asgSDK, asgEnv, asgUnreachCont, asgUnreachAbandon, asgGone, asgExpired, asgRedriveTerm,
	asgBenchLatency, asgBenchBurst, asgTenant, asgLeak, asgOutage, asgForeignHook, asgVersions,
	asgBenchThrottled[0], asgBenchThrottled[1], asgBenchThrottled[2], asgBenchThrottled[3],
	asgRecMissing, asgRecGone, asgRecWiped, asgRecForeign, asgRecCap, asgRecDLQ, asgRecReport, asgBenchRec,
}

// secondDC is a second domain controller (registered by TestMain, tagged
// asgdns-dc=true like the stack's own): groups that must fail on their own
// send to it through their hooks' NotificationMetadata ({"dcInstanceIds":
// …}), so making it unreachable fails nobody else.
const secondDC = "i-0dc00000000000002"

// Generous deadlines: the machine has 2 cores and other work running.
const (
	executionDeadline = 4 * time.Minute
	stateDeadline     = 3 * time.Minute
)

// h is the shared harness; nil until TestMain has started the stack.
var h *harness

type harness struct {
	s    *Stack
	root string
	log  *logRecorder
	tmp  string

	cfg aws.Config // the operator's: an administrator of the application account
	as  *autoscaling.Client
	ec2 *ec2.Client
	sfn *sfn.Client
	ev  *eventbridge.Client

	dns *net.Resolver

	// execs caches DescribeExecution answers for executions that have
	// ended (they never change, unless redriven: see execution).
	mu    sync.Mutex
	execs map[string]execution

	// completeDenied are the groups whose CompleteLifecycleAction the
	// CompleteLifecycle function's role is denied (denyComplete).
	policyMu       sync.Mutex
	completeDenied map[string]bool

	asgdnsOnce sync.Once
	asgdnsBin  string
	asgdnsErr  error
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// The parallel tests mostly wait (for hooks to time out, commands to
	// be re-sent): run them all at once rather than GOMAXPROCS at a time,
	// unless -parallel says otherwise.
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", "8")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "asgdns-stack-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	logFile, err := os.Create(filepath.Join(tmp, "stack.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fnLog, err := os.Create(filepath.Join(tmp, "functions.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rec := &logRecorder{file: logFile}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	// Two application accounts, each with its own deployment, share the
	// shared-services account and its DCs.
	s, err := Start(ctx, Options{RepoRoot: root, ASGNames: asgNames, Accounts: []string{AppAccount, OtherAppAccount},
		Log: rec, FunctionLogs: fnLog})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "start the local stack: %v\n", err)
		return 1
	}
	if err := s.Cloud.RegisterDC(secondDC, "Linux"); err != nil {
		fmt.Fprintf(os.Stderr, "register DC %s: %v\n", secondDC, err)
		_ = s.Close()
		return 1
	}
	h = newHarness(s, root, tmp, rec)

	code := m.Run()

	if err := s.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "close the stack: %v\n", err)
		code = 1
	}
	_ = logFile.Close()
	_ = fnLog.Close()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "the stack's log and the functions' log are kept in %s\n", tmp)
	} else {
		_ = os.RemoveAll(tmp)
	}
	return code
}

func newHarness(s *Stack, root, tmp string, rec *logRecorder) *harness {
	cfg := aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(OperatorKeyID, OperatorSecret, ""),
		BaseEndpoint: aws.String(s.URL),
	}
	port := s.DNS.Port()
	return &harness{
		s: s, root: root, log: rec, tmp: tmp, cfg: cfg,
		as: autoscaling.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg), sfn: sfn.NewFromConfig(cfg),
		ev: eventbridge.NewFromConfig(cfg),
		dns: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", fmt.Sprintf("127.0.0.1:%d", port))
		}},
		execs: map[string]execution{}, completeDenied: map[string]bool{},
	}
}

// operatorConfig is the configuration of an administrator of an
// application account with a deployment.
func (h *harness) operatorConfig(account string) aws.Config {
	cfg := h.cfg.Copy()
	if d := h.s.Deployment(account); d != nil {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(d.OperatorKeyID, OperatorSecret, "")
	}
	return cfg
}

// sfnFor is a Step Functions client of the account an ARN (state
// machine, execution) is in: each deployment's operator sees its own.
func (h *harness) sfnFor(arn string) *sfn.Client {
	if parts := strings.Split(arn, ":"); len(parts) > 4 && parts[4] != AppAccount {
		return sfn.NewFromConfig(h.operatorConfig(parts[4]))
	}
	return h.sfn
}

// testContext bounds a test's AWS calls.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// --- the stack's log ----------------------------------------------------------

// logRecorder keeps the stack's log in a file and remembers, with the time
// each line was written, the lines the tests and benchmarks look for
// (events on the bus, lifecycle actions completed or timed out).
type logRecorder struct {
	file *os.File

	mu      sync.Mutex
	partial []byte
	lines   []logLine
}

type logLine struct {
	at   time.Time
	text string
}

func (r *logRecorder) Write(p []byte) (int, error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.file.Write(p)
	r.partial = append(r.partial, p...)
	for {
		i := bytes.IndexByte(r.partial, '\n')
		if i < 0 {
			break
		}
		line := string(r.partial[:i])
		r.partial = r.partial[i+1:]
		if strings.Contains(line, "msg=event ") || strings.Contains(line, `msg="lifecycle action completed"`) ||
			strings.Contains(line, `msg="lifecycle action timed out"`) {
			r.lines = append(r.lines, logLine{at: now, text: line})
		}
	}
	return len(p), nil
}

// find returns the time of the first remembered line containing every one
// of parts.
func (r *logRecorder) find(parts ...string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		all := true
		for _, p := range parts {
			if !strings.Contains(l.text, p) {
				all = false
				break
			}
		}
		if all {
			return l.at, true
		}
	}
	return time.Time{}, false
}

// --- Auto Scaling -------------------------------------------------------------

// hookSpec is one lifecycle hook of a group the tests create.
type hookSpec struct {
	name          string // asgdns-launch / asgdns-terminate when empty
	transition    string // launching or terminating
	heartbeat     int32
	defaultResult string
	metadata      string
}

const (
	launching   = "autoscaling:EC2_INSTANCE_LAUNCHING"
	terminating = "autoscaling:EC2_INSTANCE_TERMINATING"
)

// standardHooks are the hooks the README tells teams to declare.
func standardHooks(metadata string) []hookSpec {
	return []hookSpec{
		{transition: launching, heartbeat: 3600, defaultResult: "ABANDON", metadata: metadata},
		{transition: terminating, heartbeat: 3600, defaultResult: "CONTINUE", metadata: metadata},
	}
}

// createGroup creates a group with asgdns's hooks through the SDK, as a
// team would declare it (LifecycleHookSpecificationList).
func createGroup(ctx context.Context, t testing.TB, name string, maxSize, desired int32, hooks []hookSpec) {
	t.Helper()
	createGroupWith(ctx, t, h.as, name, maxSize, desired, hooks)
}

// createGroupWith is createGroup as the caller of client (another
// account's operator).
func createGroupWith(ctx context.Context, t testing.TB, client *autoscaling.Client, name string, maxSize, desired int32, hooks []hookSpec) {
	t.Helper()
	var specs []astypes.LifecycleHookSpecification
	for _, hk := range hooks {
		hookName := "asgdns-launch"
		if hk.transition == terminating {
			hookName = "asgdns-terminate"
		}
		if hk.name != "" {
			hookName = hk.name
		}
		spec := astypes.LifecycleHookSpecification{
			LifecycleHookName: aws.String(hookName), LifecycleTransition: aws.String(hk.transition),
			HeartbeatTimeout: aws.Int32(hk.heartbeat), DefaultResult: aws.String(hk.defaultResult),
		}
		if hk.metadata != "" {
			spec.NotificationMetadata = aws.String(hk.metadata)
		}
		specs = append(specs, spec)
	}
	_, err := client.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(0), MaxSize: aws.Int32(maxSize), DesiredCapacity: aws.Int32(desired),
		LaunchTemplate:                 &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String(name)},
		AvailabilityZones:              []string{Region + "a", Region + "b", Region + "c"},
		Tags:                           []astypes.Tag{{Key: aws.String("Name"), Value: aws.String(name), PropagateAtLaunch: aws.Bool(true)}},
		LifecycleHookSpecificationList: specs,
	})
	if err != nil {
		t.Fatalf("create group %s: %v", name, err)
	}
}

func setDesired(ctx context.Context, t testing.TB, name string, desired int32) {
	t.Helper()
	if _, err := h.as.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(name), DesiredCapacity: aws.Int32(desired)}); err != nil {
		t.Fatalf("set desired capacity of %s to %d: %v", name, desired, err)
	}
}

// groupInstances is the group's instances as DescribeAutoScalingGroups
// reports them.
func groupInstances(ctx context.Context, name string) ([]astypes.Instance, error) {
	out, err := h.as.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, err
	}
	if len(out.AutoScalingGroups) != 1 {
		return nil, fmt.Errorf("DescribeAutoScalingGroups %s: %d groups", name, len(out.AutoScalingGroups))
	}
	return out.AutoScalingGroups[0].Instances, nil
}

// waitGroup waits until ok holds for the group's instances.
func waitGroup(ctx context.Context, t testing.TB, name, what string, ok func([]astypes.Instance) bool) []astypes.Instance {
	t.Helper()
	var last []astypes.Instance
	err := poll(ctx, stateDeadline, func() (bool, error) {
		var err error
		last, err = groupInstances(ctx, name)
		return err == nil && ok(last), err
	})
	if err != nil {
		t.Fatalf("group %s: %s: %v (instances: %s)", name, what, err, describeInstances(last))
	}
	return last
}

// inService keeps the InService instances.
func inService(instances []astypes.Instance) []astypes.Instance {
	return slices.DeleteFunc(slices.Clone(instances), func(i astypes.Instance) bool {
		return i.LifecycleState != astypes.LifecycleStateInService
	})
}

// allInService reports whether the group has exactly n instances, all
// InService.
func allInService(n int) func([]astypes.Instance) bool {
	return func(instances []astypes.Instance) bool {
		return len(instances) == n && len(inService(instances)) == n
	}
}

func describeInstances(instances []astypes.Instance) string {
	var parts []string
	for _, i := range instances {
		parts = append(parts, aws.ToString(i.InstanceId)+"="+string(i.LifecycleState))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// privateIP reads an instance's private address (and state) from EC2.
func privateIP(ctx context.Context, t testing.TB, id string) (ip, state string) {
	t.Helper()
	out, err := h.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil || len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("DescribeInstances %s: %v %+v", id, err, out)
	}
	inst := out.Reservations[0].Instances[0]
	return aws.ToString(inst.PrivateIpAddress), string(inst.State.Name)
}

// --- Step Functions -----------------------------------------------------------

// execution is one execution of the state machine with what its input (the
// lifecycle event) says.
type execution struct {
	ARN, Name    string
	Status       sfntypes.ExecutionStatus
	Start, Stop  time.Time
	Input        string
	Output       string
	Error, Cause string
	RedriveCount int32

	// From the input.
	Source, DetailType  string
	ASG, Instance, Hook string
	Transition          string // launch, terminate or "" (other events)
}

func (e execution) String() string {
	s := fmt.Sprintf("%s %s %s %s/%s", e.Name, e.Status, e.Transition, e.ASG, e.Instance)
	if e.Error != "" {
		s += " (" + e.Error + ": " + firstLine(e.Cause) + ")"
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	return line
}

// describe reads one execution (from the cache once it has ended).
func describe(ctx context.Context, arn string, cached bool) (execution, error) {
	if cached {
		h.mu.Lock()
		e, ok := h.execs[arn]
		h.mu.Unlock()
		if ok {
			return e, nil
		}
	}
	d, err := h.sfnFor(arn).DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		return execution{}, err
	}
	e := execution{
		ARN: arn, Name: aws.ToString(d.Name), Status: d.Status, Start: aws.ToTime(d.StartDate), Stop: aws.ToTime(d.StopDate),
		Input: aws.ToString(d.Input), Output: aws.ToString(d.Output), Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause),
		RedriveCount: aws.ToInt32(d.RedriveCount),
	}
	var in struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
		Detail     struct {
			ASG        string `json:"AutoScalingGroupName"`
			Instance   string `json:"EC2InstanceId"`
			Hook       string `json:"LifecycleHookName"`
			Transition string `json:"LifecycleTransition"`
		} `json:"detail"`
	}
	if json.Unmarshal([]byte(e.Input), &in) == nil {
		e.Source, e.DetailType = in.Source, in.DetailType
		e.ASG, e.Instance, e.Hook = in.Detail.ASG, in.Detail.Instance, in.Detail.Hook
		switch in.Detail.Transition {
		case launching:
			e.Transition = "launch"
		case terminating:
			e.Transition = "terminate"
		}
	}
	if e.Status != sfntypes.ExecutionStatusRunning && e.RedriveCount == 0 {
		h.mu.Lock()
		h.execs[arn] = e
		h.mu.Unlock()
	}
	return e, nil
}

// executionsSince lists the executions started at or after since, newest
// first, through ListExecutions' pages of 100.
func executionsSince(ctx context.Context, since time.Time) ([]execution, error) {
	return executionsOf(ctx, h.s.StateMachineARN, since)
}

// executionsOf is executionsSince for any deployment's state machine.
func executionsOf(ctx context.Context, stateMachineARN string, since time.Time) ([]execution, error) {
	var out []execution
	pages := sfn.NewListExecutionsPaginator(h.sfnFor(stateMachineARN), &sfn.ListExecutionsInput{StateMachineArn: aws.String(stateMachineARN), MaxResults: 100})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, item := range page.Executions {
			if aws.ToTime(item.StartDate).Before(since) {
				return out, nil
			}
			e, err := describe(ctx, aws.ToString(item.ExecutionArn), item.Status != sfntypes.ExecutionStatusRunning)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// waitExecutions waits until at least n executions of the group started
// since since have ended, and returns those, oldest first.
func waitExecutions(ctx context.Context, t testing.TB, asg string, since time.Time, n int, keep func(execution) bool) []execution {
	t.Helper()
	return waitExecutionsOf(ctx, t, h.s.StateMachineARN, asg, since, n, keep)
}

// waitExecutionsOf is waitExecutions for any deployment's state machine.
func waitExecutionsOf(ctx context.Context, t testing.TB, stateMachineARN, asg string, since time.Time, n int, keep func(execution) bool) []execution {
	t.Helper()
	var ended []execution
	var seen []execution
	err := poll(ctx, executionDeadline, func() (bool, error) {
		all, err := executionsOf(ctx, stateMachineARN, since)
		if err != nil {
			return false, err
		}
		ended, seen = nil, nil
		for _, e := range slices.Backward(all) {
			if e.ASG != asg || (keep != nil && !keep(e)) {
				continue
			}
			seen = append(seen, e)
			if e.Status != sfntypes.ExecutionStatusRunning {
				ended = append(ended, e)
			}
		}
		return len(ended) >= n, nil
	})
	if err != nil {
		t.Fatalf("%d executions of %s ended since %s, want %d: %v; executions: %v", len(ended), asg, since.Format(time.RFC3339Nano), n, err, seen)
	}
	return ended
}

// waitExecution waits for one execution (by ARN) to end, uncached: a
// redriven execution ends again.
func waitExecution(ctx context.Context, t testing.TB, arn string) execution {
	t.Helper()
	var e execution
	err := poll(ctx, executionDeadline, func() (bool, error) {
		var err error
		e, err = describe(ctx, arn, false)
		return err == nil && e.Status != sfntypes.ExecutionStatusRunning, err
	})
	if err != nil {
		t.Fatalf("execution %s did not end: %v (last: %v)", arn, err, e)
	}
	return e
}

func ofTransition(transition string) func(execution) bool {
	return func(e execution) bool { return e.Transition == transition }
}

// history reads an execution's whole history, oldest first.
func history(ctx context.Context, t testing.TB, arn string) []sfntypes.HistoryEvent {
	t.Helper()
	var events []sfntypes.HistoryEvent
	pages := sfn.NewGetExecutionHistoryPaginator(h.sfnFor(arn), &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 100})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("GetExecutionHistory %s: %v", arn, err)
		}
		events = append(events, page.Events...)
	}
	return events
}

// statesEntered names the states an execution entered, in order.
func statesEntered(events []sfntypes.HistoryEvent) []string {
	var names []string
	for _, ev := range events {
		if d := ev.StateEnteredEventDetails; d != nil {
			names = append(names, aws.ToString(d.Name))
		}
	}
	return names
}

func count(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// workflowState is the part of the state document ($) the tests read from
// an execution's output or a Fail state's input.
type workflowState struct {
	Instance *struct {
		Action     string `json:"action"`
		Reason     string `json:"reason"`
		State      string `json:"state"`
		PrivateIP  string `json:"privateIp"`
		InstanceID string `json:"instanceId"`
		Record     *struct {
			FQDN string `json:"fqdn"`
		} `json:"record"`
	} `json:"instance"`
	Command *struct {
		CommandID    string `json:"commandId"`
		DCInstanceID string `json:"dcInstanceId"`
		Step         string `json:"step"`
		Attempt      int    `json:"attempt"`
	} `json:"command"`
	Invocation *struct {
		Done   bool   `json:"done"`
		Status string `json:"status"`
		Result *struct {
			Outcome string `json:"outcome"`
			Message string `json:"message"`
		} `json:"result"`
	} `json:"invocation"`
	Hold *struct {
		Holds     int    `json:"holds"`
		Heartbeat string `json:"heartbeat"`
	} `json:"hold"`
	Lifecycle *struct {
		Completed        bool   `json:"completed"`
		AlreadyCompleted bool   `json:"alreadyCompleted"`
		Result           string `json:"result"`
		Reason           string `json:"reason"`
	} `json:"lifecycle"`
}

func parseState(t testing.TB, doc string) workflowState {
	t.Helper()
	var st workflowState
	if err := json.Unmarshal([]byte(doc), &st); err != nil {
		t.Fatalf("state document: %v: %s", err, doc)
	}
	return st
}

// lastStateInput is the input of the last state an execution entered (for
// a Fail state: the whole state document).
func lastStateInput(events []sfntypes.HistoryEvent) (name, input string) {
	for _, ev := range slices.Backward(events) {
		if d := ev.StateEnteredEventDetails; d != nil {
			return aws.ToString(d.Name), aws.ToString(d.Input)
		}
	}
	return "", ""
}

// --- DNS ------------------------------------------------------------------------

func fqdn(asg, instanceID string) string { return asg + "-" + instanceID + "." + Zone }

// resolve asks the stack's BIND for name's A records.
func resolve(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return h.dns.LookupHost(ctx, name+".")
}

func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

// dig asks BIND with dig (the tool an operator would use) and returns the
// answer's A records.
func dig(t testing.TB, name string) []string {
	t.Helper()
	out, err := exec.Command("dig", "-p", strconv.Itoa(h.s.DNS.Port()), "@127.0.0.1", name, "A", "+short", "+time=3", "+tries=3").CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", name, err, out)
	}
	return strings.Fields(string(out))
}

// --- polling ------------------------------------------------------------------

// poll calls check every 250 ms until it reports done, or fails once the
// deadline (or ctx) ends; an error from check is kept as the reason.
func poll(ctx context.Context, deadline time.Duration, check func() (bool, error)) error {
	limit := time.Now().Add(deadline)
	var last error
	for {
		done, err := check()
		if done {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(limit) {
			if last != nil {
				return fmt.Errorf("not within %s (last error: %w)", deadline, last)
			}
			return fmt.Errorf("not within %s", deadline)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// --- the functions' sandboxes -------------------------------------------------

// sandbox is a running execution environment of one of the stack's
// functions: a child process of this test binary running a bootstrap.
type sandbox struct {
	pid  int
	exe  string            // the binary it runs (/proc/PID/exe)
	env  map[string]string // its environment (/proc/PID/environ)
	name string            // AWS_LAMBDA_FUNCTION_NAME
}

// sandboxes finds the functions' sandboxes: this process's children whose
// executable is a bootstrap. It reads what the kernel says the process
// runs with, not what the host meant to give it.
func sandboxes(t testing.TB) []sandbox {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Fatalf("reading a sandbox's environment needs /proc (Linux), not %s", runtime.GOOS)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	var out []sandbox
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, err := parentPID(pid); err != nil || ppid != self {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || filepath.Base(exe) != "bootstrap" {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue // exited meanwhile
		}
		env := map[string]string{}
		for kv := range strings.SplitSeq(strings.TrimRight(string(raw), "\x00"), "\x00") {
			k, v, _ := strings.Cut(kv, "=")
			if _, dup := env[k]; dup {
				t.Errorf("sandbox %d (%s): %s set twice", pid, exe, k)
			}
			env[k] = v
		}
		// Only the primary deployment's: another account's functions (or
		// another stack's, in tests that start one) have the same names.
		name := env["AWS_LAMBDA_FUNCTION_NAME"]
		if env["AWS_ENDPOINT_URL"] != h.s.URL || env["AWS_ACCESS_KEY_ID"] != h.s.Deployments[0].AccessKeys[name] {
			continue
		}
		out = append(out, sandbox{pid: pid, exe: exe, env: env, name: name})
	}
	return out
}

func parentPID(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PPid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New("no PPid")
}

// functionCredentials are the credentials the stack gave a function (its
// sandbox's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), as Lambda gives
// a function its execution role's.
func functionCredentials(t testing.TB, function string) (keyID, secret string) {
	t.Helper()
	for _, sb := range sandboxes(t) {
		if sb.name == function {
			return sb.env["AWS_ACCESS_KEY_ID"], sb.env["AWS_SECRET_ACCESS_KEY"]
		}
	}
	t.Fatalf("no sandbox of %s is running: run an execution first", function)
	return "", ""
}

// --- the shared-services account -------------------------------------------

// The shared-services role the application account's functions assume
// (one per account: asgdns-dns-registrar-<account>), and what its trust
// policy (shared-services/template.yaml) requires of a session.
const (
	sharedRoleARN  = "arn:aws:iam::" + SharedAccount + ":role/asgdns-dns-registrar-" + AppAccount
	sourceIdentity = "asgdns-i-0123456789abcdef0"
)

// sharedSSM is an SSM client in the shared-services account. The operator
// (an administrator of the application account) has no SSM rights there
// and the role trusts only the three function roles, so the way in is the
// functions' own: a function role's credentials, then AssumeRole with the
// ExternalId and an asgdns SourceIdentity.
func sharedSSM(ctx context.Context, t testing.TB) *ssm.Client {
	t.Helper()
	keyID, secret := functionCredentials(t, functionName("WaitForCommandFunction"))
	fnCfg := h.cfg.Copy()
	fnCfg.Credentials = credentials.NewStaticCredentialsProvider(keyID, secret, "")
	out, err := sts.NewFromConfig(fnCfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(sharedRoleARN), RoleSessionName: aws.String("asgdns-test"),
		ExternalId: aws.String(ExternalID), SourceIdentity: aws.String(sourceIdentity),
	})
	if err != nil {
		t.Fatalf("assume the shared-services role as the WaitForCommand function: %v", err)
	}
	c := out.Credentials
	sharedCfg := h.cfg.Copy()
	sharedCfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return ssm.NewFromConfig(sharedCfg)
}

// --- IAM: refusing CompleteLifecycleAction for a group --------------------

// denyComplete makes the CompleteLifecycle function's role unable to
// complete lifecycle actions of the group (as a missing
// CompleteHooksOf<group> policy would), until allowComplete. Other groups
// are unaffected.
func denyComplete(t testing.TB, asg string) {
	t.Helper()
	h.policyMu.Lock()
	defer h.policyMu.Unlock()
	h.completeDenied[asg] = true
	setCompletePolicy(t)
}

func allowComplete(t testing.TB, asg string) {
	t.Helper()
	h.policyMu.Lock()
	defer h.policyMu.Unlock()
	delete(h.completeDenied, asg)
	setCompletePolicy(t)
}

func setCompletePolicy(t testing.TB) {
	t.Helper()
	statements := []map[string]any{{"Effect": "Allow", "Action": "*", "Resource": "*"}}
	var denied []string
	for asg := range h.completeDenied {
		denied = append(denied, "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/"+asg)
	}
	slices.Sort(denied)
	if len(denied) > 0 {
		statements = append(statements, map[string]any{"Effect": "Deny", "Action": "autoscaling:CompleteLifecycleAction", "Resource": denied})
	}
	policy, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.s.Cloud.SetRolePolicy(h.s.FunctionRoleARN("CompleteLifecycleFunction"), policy); err != nil {
		t.Fatal(err)
	}
}

// --- the asgdns command ---------------------------------------------------------

// asgdns runs the operator's command (cmd/asgdns, built once) against the
// stack with the operator's environment, and returns its output and exit
// code. Its `replay` is operate.Replay, its `executions` operate.Executions.
func asgdns(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	h.asgdnsOnce.Do(func() {
		h.asgdnsBin = filepath.Join(h.tmp, "asgdns")
		build := exec.Command("go", "build", "-o", h.asgdnsBin, "./cmd/asgdns")
		build.Dir = h.root
		build.Env = append(os.Environ(), "GOWORK="+filepath.Join(h.root, "go.work"))
		if out, err := build.CombinedOutput(); err != nil {
			h.asgdnsErr = fmt.Errorf("go build ./cmd/asgdns: %v\n%s", err, out)
		}
	})
	if h.asgdnsErr != nil {
		t.Fatal(h.asgdnsErr)
	}
	cmd := exec.Command(h.asgdnsBin, args...)
	cmd.Env = append(h.s.OperatorEnv(), "PATH="+os.Getenv("PATH"), "HOME="+h.tmp)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("asgdns %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// replayDoc is `asgdns replay --json`.
type replayDoc struct {
	DryRun bool `json:"dryRun"`
	Steps  []struct {
		Execution struct {
			Name         string `json:"name"`
			ARN          string `json:"executionArn"`
			Status       string `json:"status"`
			InstanceID   string `json:"instanceId"`
			ASG          string `json:"asg"`
			Transition   string `json:"transition"`
			RedriveCount int    `json:"redriveCount"`
		} `json:"execution"`
		Action       string `json:"action"`
		Reason       string `json:"reason"`
		EndedIn      string `json:"endedIn"`
		ReplayName   string `json:"replayName"`
		ReplayStatus string `json:"replayStatus"`
		Result       string `json:"result"`
		Error        string `json:"error"`
	} `json:"steps"`
	Summary struct {
		Redrive int `json:"redrive"`
		Restart int `json:"restart"`
		Skip    int `json:"skip"`
		Failed  int `json:"failed"`
	} `json:"summary"`
}

// replay runs `asgdns replay --json` for one group; yes adds --yes.
func replay(t testing.TB, asg string, yes bool) replayDoc {
	t.Helper()
	args := []string{"replay", "--state-machine-arn", h.s.StateMachineARN, "--asg", asg, "--json", "--read-rate", "200", "--rate", "50"}
	if yes {
		args = append(args, "--yes")
	}
	stdout, stderr, code := asgdns(t, args...)
	if code != 0 {
		t.Fatalf("asgdns %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	var doc replayDoc
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("asgdns replay --json: %v\n%s", err, stdout)
	}
	return doc
}
