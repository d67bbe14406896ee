// Package run is the logic of functions/reconcile: one reconciliation run
// (DESIGN §9) over narrow interfaces of the AWS SDK clients main.go wires
// in. The decision itself is package workflow/reconcile's; this package
// reads what it decides from, carries out what it decided, and reports.
//
// A run, in order:
//  1. Dead letters (when asked, and not a dry run): functions/drain-dead-letters,
//     invoked, starts the EventBridge events the rule could not deliver on
//     the state machine they were meant for. First, so a run that fails
//     later still drains them before the queue's retention ends.
//  2. Desired state, in this application account: the configured ASGs,
//     asgdns's hooks on them, their instances (reconcile.Derive each).
//  3. Actual state: each zone the configuration and the desired records
//     use, a page per invocation of functions/list-zone, which holds the
//     shared-services session and runs the DNS document's list action.
//     Then what became of the instances owning records that are not
//     desired (reconcile.Locate, or Derive for a configured ASG's).
//  4. The plan: reconcile.Decide.
//  5. Repairs, in upsert and sync mode unless a dry run: one execution of
//     the normal state machine per action the plan executes, started with
//     the lifecycle event that action stands for (no token, so nothing is
//     completed).
//  6. The report, returned, and metrics through the log (EMF).
//
// The run links no shared-services or queue client (ssm, sts, sqs): those
// are the invoked functions', which keeps each bootstrap within its size
// budget, and the shared-services role trusts list-zone's role alone.
package run

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/functions/reconcile/invoke"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/reconcile"
)

// autoScalingAPI reads the configured ASGs, asgdns's hooks on them, and
// where an instance owning a record stands.
type autoScalingAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, params *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	DescribeLifecycleHooks(ctx context.Context, params *autoscaling.DescribeLifecycleHooksInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeLifecycleHooksOutput, error)
	DescribeAutoScalingInstances(ctx context.Context, params *autoscaling.DescribeAutoScalingInstancesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
}

var _ autoScalingAPI = (*autoscaling.Client)(nil)

// ec2API reads instances: address, AZ, tags, state.
type ec2API interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

var _ ec2API = (*ec2.Client)(nil)

// lambdaAPI invokes functions/list-zone and functions/drain-dead-letters:
// lambda:Invoke, in the reconciler's own small client (package invoke
// says why it is not service/lambda's).
type lambdaAPI interface {
	Invoke(ctx context.Context, params *invoke.Input) (*invoke.Output, error)
}

var _ lambdaAPI = (*invoke.Client)(nil)

// sfnAPI starts executions of the normal state machine.
type sfnAPI interface {
	StartExecution(ctx context.Context, params *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

var _ sfnAPI = (*sfn.Client)(nil)

// Handler is the reconciler.
type Handler struct {
	AutoScaling autoScalingAPI
	EC2         ec2API
	SFN         sfnAPI
	// Lambda invokes the list and drain functions (Config names them).
	Lambda lambdaAPI
	// Defaults are the stack's settings (config.Load), Hooks asgdns's own
	// lifecycle hooks (config.LoadHookNames), Config the reconciler's
	// (config.LoadReconciler).
	Defaults config.Settings
	Hooks    workflow.HookNames
	Config   config.Reconciler
	// RunID names a run whose input names none: the Lambda request id in
	// production, which Lambda keeps when it retries an asynchronous
	// invocation, so a retried run starts nothing twice.
	RunID func(ctx context.Context) string
	// Now is the clock; tests replace it.
	Now func() time.Time
	Log *slog.Logger
}

// Input is the event a run is invoked with: an EventBridge schedule's
// constant Input, or a person's.
type Input struct {
	// Mode is report (the default), upsert or sync.
	Mode reconcile.Mode `json:"mode,omitempty"`
	// ASG limits the run to one configured ASG.
	ASG string `json:"asg,omitempty"`
	// Run names the run (and so its executions); default the request id.
	Run string `json:"run,omitempty"`
	// DrainDeadLetters starts the dead-lettered events, whatever the mode.
	DrainDeadLetters bool `json:"drainDeadLetters,omitempty"`
	// DryRun makes the plan in Mode, exactly as that mode would carry it
	// out (reconcile.Decide), and starts and drains nothing.
	DryRun bool `json:"dryRun,omitempty"`
}

// Report is what a run returns.
type Report struct {
	Run  string         `json:"run"`
	Mode reconcile.Mode `json:"mode"`
	// DryRun is true when nothing was started or drained: the plan's
	// executed actions are what the mode would start.
	DryRun bool `json:"dryRun"`
	// ASGs are the ASGs reconciled: the configured ones, or the one asked for.
	ASGs []string `json:"asgs"`
	// Succeeded is true when every zone was read completely, every repair
	// the plan executes was started, and nothing is in Errors or
	// DeadLetters.Problems: what ReconcileSucceeded counts.
	Succeeded   bool                 `json:"succeeded"`
	Plan        reconcile.Plan       `json:"plan"`
	Reads       Reads                `json:"reads"`
	Started     []Started            `json:"started"`
	DeadLetters contract.DeadLetters `json:"deadLetters"`
	// Errors are what the run could not do, each with its fix; none of them
	// stopped the others.
	Errors []string `json:"errors"`
}

// Reads counts what reading the zones cost.
type Reads struct {
	// Zones listed, pages read (or tried: one list-zone invocation each),
	// and list commands that ran on a DC to an answer: a page, or a
	// command that ended without one (CommandFailed). A call refused
	// before a command ran (a DC not online, a denied SendCommand) is not
	// one.
	Zones    int `json:"zones"`
	Pages    int `json:"pages"`
	Commands int `json:"commands"`
}

// Started is one execution a repair started.
type Started struct {
	Op         reconcile.Op   `json:"op"`
	Kind       reconcile.Kind `json:"kind"`
	InstanceID string         `json:"instanceId"`
	FQDN       string         `json:"fqdn"`
	Execution  string         `json:"execution"`
	// Already is true when the execution existed (an earlier try of this
	// run started it): not started twice.
	Already bool `json:"already"`
}

// Handle runs one reconciliation and returns its report. Input that is not
// valid is refused before any call. A run that cannot read the desired
// state fails with the routed error; a zone it cannot read completely is
// reported (and holds back what depends on it), never an error that hides
// the others.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*Report, error) {
	in, err := h.parse(ctx, payload)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid input: nothing read or changed", slog.Any("error", err))
		return nil, err
	}
	log := h.Log.With(slog.String("run", in.Run), slog.String("mode", string(in.Mode)), slog.Bool("dryRun", in.DryRun))
	if in.ASG != "" {
		log = log.With(slog.String("asg", in.ASG))
	}
	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	r := &runner{h: h, in: in, log: log, started: h.Now().UTC(),
		report: &Report{Run: in.Run, Mode: in.Mode, DryRun: in.DryRun, Started: []Started{}, Errors: []string{},
			DeadLetters: contract.DeadLetters{Problems: []string{}}}}
	r.report.ASGs = h.Config.ASGNames
	if in.ASG != "" {
		r.report.ASGs = []string{in.ASG}
	}
	log.InfoContext(ctx, "reconcile run started", slog.Any("asgs", r.report.ASGs), slog.Bool("drainDeadLetters", in.DrainDeadLetters))
	if in.DrainDeadLetters && !in.DryRun {
		r.drain(ctx)
	}
	if err := r.reconcile(ctx); err != nil {
		log.ErrorContext(ctx, "reconcile run failed", slog.Any("error", err))
		r.emit(ctx, false)
		return nil, err
	}
	rep := r.report
	rep.Succeeded = len(rep.Errors) == 0 && len(rep.DeadLetters.Problems) == 0
	for _, z := range rep.Plan.Zones {
		rep.Succeeded = rep.Succeeded && z.Listed && z.Complete
	}
	log.InfoContext(ctx, "reconcile run done", slog.Bool("succeeded", rep.Succeeded), slog.Any("drift", rep.Plan.Drift),
		slog.Any("removals", rep.Plan.Removals), slog.Int("started", len(rep.Started)), slog.Any("reads", rep.Reads),
		slog.Int("errors", len(rep.Errors)))
	r.emit(ctx, rep.Succeeded)
	return rep, nil
}

// parse validates the input against the configuration.
func (h *Handler) parse(ctx context.Context, payload []byte) (Input, error) {
	var in Input
	if trimmed := bytes.TrimSpace(payload); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		if err := contract.Decode(trimmed, &in, inputKeys...); err != nil {
			reason := "is not a JSON object of " + strings.Join(inputKeys, ", ") + ": " + err.Error()
			return Input{}, invalidInput("input", string(payload), reason,
				`invoke with {"mode":"report|upsert|sync","asg":"<one configured ASG, optional>","run":"<id, optional>","drainDeadLetters":false,"dryRun":false}; `+
					"a schedule passes it as the rule target's constant Input")
		}
	}
	switch in.Mode {
	case "":
		in.Mode = reconcile.ModeReport
	case reconcile.ModeReport, reconcile.ModeUpsert, reconcile.ModeSync:
	default:
		return Input{}, invalidInput("mode", string(in.Mode), "is not report, upsert or sync",
			"use report (the default: changes nothing), upsert (registers) or sync (also removes, capped)")
	}
	if in.ASG != "" && !h.Config.Configured(in.ASG) {
		return Input{}, &workflow.InvalidConfig{Problem: workflow.Problem{Field: "asg", Value: in.ASG,
			Reason: "is not one of the configured ASGs (" + strings.Join(h.Config.ASGNames, ", ") + ")",
			Fix:    "name a configured ASG, leave asg out to reconcile them all, or add it to the stack's ASG names (" + config.EnvASGNames + ")"}}
	}
	if in.Run == "" && h.RunID != nil {
		in.Run = sanitizeRun(h.RunID(ctx))
	}
	if in.Run == "" {
		in.Run = h.Now().UTC().Format("20060102T150405Z")
	}
	if !contract.RunPattern.MatchString(in.Run) {
		return Input{}, invalidInput("run", in.Run, "is not 1-36 of A-Z a-z 0-9 _ -",
			"use a short id such as 2026-11-20-manual, or leave it out (the request id)")
	}
	if in.DrainDeadLetters && h.Config.DrainFunction == "" {
		return Input{}, &workflow.InvalidConfig{Problem: workflow.Problem{Field: "drainDeadLetters", Value: "true",
			Reason: "asks to drain the dead-letter queue, but no drain function is configured (" + config.EnvDrainFunction + " is empty)",
			Fix:    "deploy the stack with its dead-letter queue and drain function, or leave drainDeadLetters out"}}
	}
	return in, nil
}

// inputKeys are Input's keys, exactly as spelled (contract.Decode).
var inputKeys = []string{"mode", "asg", "run", "drainDeadLetters", "dryRun"}

// sanitizeRun keeps what a run id may hold of a request id.
func sanitizeRun(id string) string {
	id = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, id)
	return id[:min(len(id), 36)]
}

func invalidInput(field, value, reason, fix string) error {
	return &workflow.InvalidEvent{Problem: workflow.Problem{Field: field, Value: value, Reason: reason, Fix: fix}}
}

// runner is one run's state.
type runner struct {
	h       *Handler
	in      Input
	log     *slog.Logger
	started time.Time
	report  *Report
	// groups are the ASGs read, by name.
	groups map[string]*group
	// ownerGroups are the groups located owners were last in ("" when
	// unknown), for their removals' events.
	ownerGroups map[string]string
	// mu guards the read counts and offline across concurrent page reads.
	mu sync.Mutex
	// offline are the DCs found not online in SSM this run.
	offline map[string]bool
	// repairsStarted counts executions this try started.
	repairsStarted int
}

// fail records something the run could not do, and logs it.
func (r *runner) fail(ctx context.Context, msg string, attrs ...any) {
	r.report.Errors = append(r.report.Errors, msg)
	r.log.WarnContext(ctx, msg, attrs...)
}

// reconcile is steps 2 to 5.
func (r *runner) reconcile(ctx context.Context) error {
	input := reconcile.Input{Account: r.h.Config.Account, Mode: r.in.Mode,
		Limits: reconcile.Limits{RemovalFloor: r.h.Config.RemovalFloor, RemovalPercent: r.h.Config.RemovalPercent}}
	if err := r.readDesired(ctx, &input); err != nil {
		return err
	}
	input.Zones = r.readZones(ctx, r.zones(input.Desired))
	if err := r.locateOwners(ctx, &input); err != nil {
		return err
	}
	plan, err := reconcile.Decide(input)
	if err != nil {
		return &workflow.InvalidConfig{Problem: workflow.Problem{Field: "reconcile plan", Reason: "the reconciler could not plan", Err: err,
			Fix: "report this: the reconciler passed the planner input it refuses"}}
	}
	r.report.Plan = plan
	r.repair(ctx, plan)
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errText is err's message, for the report.
func errText(what string, err error) string { return fmt.Sprintf("%s: %v", what, err) }
