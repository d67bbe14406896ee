package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
	"github.com/asgdns/asgdns/workflow/reconcile"
)

// UnknownASG stands in the repair event of a record whose instance's group
// nobody remembers (EC2 and Auto Scaling both forgot it). The event needs
// a group name, and the workflow reads nothing from it for a removal of a
// kept record without a token.
const UnknownASG = "unknown-asg-reconcile"

// Repair is the execution input a repair starts the state machine with:
// the lifecycle event the action stands for, as the normal workflow handles
// it (workflow.PlanFor), plus the run it came from and, for a removal, the
// record to remove (DescribeInstance removes a kept $.instance.record
// rather than derive one again from an instance that may be gone).
type Repair struct {
	workflow.Event
	Reconcile Origin        `json:"reconcile"`
	Instance  *KeptInstance `json:"instance,omitempty"`
}

// Origin marks an execution as a reconcile run's repair.
type Origin struct {
	Run  string         `json:"run"`
	Kind reconcile.Kind `json:"kind"`
	Mode reconcile.Mode `json:"mode"`
}

// KeptInstance is the part of $.instance a terminate's DescribeInstance
// reads to remove the record it names (its keptRecord).
type KeptInstance struct {
	Action     workflow.Action     `json:"action"`
	Transition workflow.Transition `json:"transition"`
	InstanceID string              `json:"instanceId"`
	ASG        string              `json:"asg"`
	Record     workflow.Record     `json:"record"`
}

// repair starts one execution per action the plan executes; a dry run
// starts none (the plan says what would start).
func (r *runner) repair(ctx context.Context, plan reconcile.Plan) {
	if r.in.DryRun {
		r.log.InfoContext(ctx, "dry run: no repair started", slog.Int("wouldStart", len(plan.Executed())))
		return
	}
	for _, a := range plan.Executed() {
		name := executionName(r.in.Run, a)
		log := r.log.With(slog.String("instanceId", a.InstanceID), slog.String("asg", a.ASG), slog.String("execution", name))
		input, err := r.repairInput(a)
		if err != nil {
			r.fail(ctx, errText(fmt.Sprintf("%s %s of %s not started", a.Op, a.FQDN, a.InstanceID), err))
			continue
		}
		already, err := r.start(ctx, name, input)
		if err != nil {
			r.fail(ctx, errText(fmt.Sprintf("%s %s of %s: execution %s not started", a.Op, a.FQDN, a.InstanceID, name), err),
				slog.String("instanceId", a.InstanceID), slog.String("execution", name))
			continue
		}
		if !already {
			r.repairsStarted++
		}
		r.report.Started = append(r.report.Started, Started{Op: a.Op, Kind: a.Kind, InstanceID: a.InstanceID, FQDN: a.FQDN,
			Execution: name, Already: already})
		log.InfoContext(ctx, "repair started", slog.String("op", string(a.Op)), slog.String("kind", string(a.Kind)),
			slog.String("fqdn", a.FQDN), slog.Bool("already", already))
	}
}

// start starts an execution; already is true when it existed. Step
// Functions answers a name it has seen with ExecutionAlreadyExists (or, for
// a running execution with the same input, with that execution, started
// before this run).
func (r *runner) start(ctx context.Context, name string, input []byte) (already bool, err error) {
	out, err := r.h.SFN.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(r.h.Config.StateMachineARN), Name: aws.String(name), Input: aws.String(string(input))})
	if workflow.ErrorCode(err) == "ExecutionAlreadyExists" {
		return true, nil
	}
	if err != nil {
		return false, workflow.FromAWS("states:StartExecution "+name, err,
			"allow states:StartExecution on "+r.h.Config.StateMachineARN+" to the reconciler's role")
	}
	return out.StartDate != nil && out.StartDate.Before(r.started), nil
}

// repairInput builds the lifecycle event for an action: a launch for a
// register, a terminate for a removal, with asgdns's own hook for that
// transition (else PlanFor leaves it alone as another team's) and no
// token (so nothing is completed, and no hook is heartbeated).
func (r *runner) repairInput(a reconcile.Action) ([]byte, error) {
	asg := a.ASG
	if asg == "" {
		asg = cmpOr(r.ownerGroups[a.InstanceID], UnknownASG)
	}
	g := r.groups[asg]
	detail := workflow.LifecycleActionDetail{AutoScalingGroupName: asg, EC2InstanceID: a.InstanceID}
	var metadata string
	if g != nil {
		metadata = g.metadata
	}
	if metadata != "" {
		detail.NotificationMetadata = aws.String(metadata)
	}
	e := workflow.Event{Version: "0", Source: workflow.SourceAutoScaling, Account: r.h.Config.Account,
		Time: r.started.Format("2006-01-02T15:04:05Z"), Region: r.h.Config.Region, Resources: []string{}}
	if g != nil && g.arn != "" {
		e.Resources = []string{g.arn}
	}
	rep := Repair{Reconcile: Origin{Run: r.in.Run, Kind: a.Kind, Mode: r.in.Mode}}
	switch a.Op {
	case reconcile.OpRegister:
		e.DetailType = workflow.DetailTypeLaunchAction
		detail.LifecycleTransition = workflow.TransitionLaunching
		detail.LifecycleHookName = r.hookFor(g, true)
		detail.Origin, detail.Destination = aws.String("EC2"), aws.String("AutoScalingGroup")
	case reconcile.OpRemove:
		e.DetailType = workflow.DetailTypeTermAction
		detail.LifecycleTransition = workflow.TransitionTerminating
		detail.LifecycleHookName = r.hookFor(g, false)
		detail.Origin, detail.Destination = aws.String("AutoScalingGroup"), aws.String("EC2")
		// The settings DescribeInstance will apply: the group's, when it
		// is a configured group read this run, else the stack's.
		settings := r.h.Defaults
		if g != nil && g.ok {
			settings = g.settings
		}
		rec := workflow.Record{Hostname: a.Hostname, Zone: a.Zone, FQDN: a.FQDN, TTL: settings.TTL, PTR: settings.PTR}
		if err := config.CheckRecord(rec); err != nil {
			return nil, err
		}
		rep.Instance = &KeptInstance{Action: workflow.ActionDeregister, Transition: workflow.TransitionTerminate,
			InstanceID: a.InstanceID, ASG: asg, Record: rec}
	default:
		return nil, fmt.Errorf("op %q is not register or remove", a.Op)
	}
	d, err := json.Marshal(detail)
	if err != nil {
		return nil, err
	}
	e.Detail = d
	e.ID = eventID(executionName(r.in.Run, a))
	rep.Event = e
	return json.Marshal(rep)
}

// hookFor is asgdns's launch (or terminate) hook on g; for a group
// without one, or no group, the name the stack gives it: ASGDNS_HOOK_NAMES
// lists the launch hook first and the terminate hook last
// (template.yaml). Any of Hooks passes PlanFor; the name only says which
// hook the repair stands in for.
func (r *runner) hookFor(g *group, launch bool) string {
	switch {
	case launch && g != nil && g.launchHook != "":
		return g.launchHook
	case !launch && g != nil && g.terminateHook != "":
		return g.terminateHook
	case launch:
		return r.h.Hooks[0]
	}
	return r.h.Hooks[len(r.h.Hooks)-1]
}

// executionName is the run's name for an action's execution, the same on
// every try of the run: reconcile-<run>-<instance>-register, or
// reconcile-<run>-<instance>-remove-<hash> (an instance may own several
// names to remove). At most 80 characters of [A-Za-z0-9_-].
func executionName(run string, a reconcile.Action) string {
	name := "reconcile-" + run + "-" + a.InstanceID + "-" + string(a.Op)
	if a.Op == reconcile.OpRemove {
		sum := sha256.Sum256([]byte(a.FQDN))
		name += "-" + hex.EncodeToString(sum[:3])
	}
	return name
}

// eventID is a deterministic event id in the shape EventBridge gives one
// (a UUID), derived from the execution name.
func eventID(name string) string {
	s := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(s[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
