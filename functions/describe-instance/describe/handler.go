// Package describe is the logic of functions/describe-instance: its Handler, over narrow
// interfaces of the AWS SDK clients main.go wires in.
package describe

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/config"
)

// ec2API is the one EC2 call this step makes.
type ec2API interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

var _ ec2API = (*ec2.Client)(nil)

// autoScalingAPI reads where the instance stands in its group.
type autoScalingAPI interface {
	DescribeAutoScalingInstances(ctx context.Context, params *autoscaling.DescribeAutoScalingInstancesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingInstancesOutput, error)
}

var _ autoScalingAPI = (*autoscaling.Client)(nil)

// Handler is the DescribeInstance step.
type Handler struct {
	EC2         ec2API
	AutoScaling autoScalingAPI
	Defaults    config.Settings
	// Hooks are asgdns's own lifecycle hooks; any other hook's action is
	// left untouched.
	Hooks workflow.HookNames
	Log   *slog.Logger
}

// gone are the instance states in which there is nothing left to register.
var gone = []string{"shutting-down", "terminated"}

// Handle validates the event and returns the InstanceResult for $.instance.
// Events that need no DNS work return Action none without calling AWS.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*workflow.InstanceResult, error) {
	req, err := workflow.DecodeRequest(payload)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid input", slog.Any("error", err))
		return nil, err
	}
	plan, err := workflow.PlanFor(req.State.Event, h.Hooks)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid event", slog.String("execution", req.Execution), slog.Any("error", err))
		return nil, err
	}
	log := h.Log.With(req.LogAttrs()...)
	res := &workflow.InstanceResult{
		Action: plan.Action, Reason: plan.Reason, Complete: plan.Complete(), Transition: plan.Transition,
		InstanceID: plan.InstanceID, ASG: plan.ASG, OnFailure: h.Defaults.OnFailure,
	}
	if plan.Action == workflow.ActionNone {
		// Nothing to register, so configuration is not read: a bad
		// override must not fail (and so abandon) a warm-pool instance.
		log.InfoContext(ctx, "no DNS work", slog.String("reason", plan.Reason))
		return res, nil
	}
	settings, err := h.Defaults.WithMetadata(plan.ASG, plan.Metadata)
	if err != nil {
		log.ErrorContext(ctx, "invalid configuration", slog.Any("error", err))
		return nil, err
	}
	res.OnFailure = settings.OnFailure

	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	if plan.Action == workflow.ActionRegister {
		leaving, err := h.leaving(ctx, res)
		if err != nil {
			log.ErrorContext(ctx, "describe auto scaling instance failed", slog.Any("error", err))
			return nil, err
		}
		if leaving {
			return h.launchOutlived(ctx, log, res, req.State, settings)
		}
	}
	if plan.Action == workflow.ActionDeregister {
		if kept, ok := keptRecord(req.State); ok {
			return h.deregisterKept(ctx, log, res, settings, kept)
		}
	}
	inst, err := h.describe(ctx, plan.InstanceID)
	var notFound *workflow.InstanceNotFound
	if errors.As(err, &notFound) && plan.Action == workflow.ActionDeregister {
		// A terminate event replayed after the instance is gone: its record
		// can still be removed (ownership is proven by the instance id) as
		// long as the hostname does not depend on the instance's tags or AZ.
		return h.deregisterGone(ctx, log, res, settings, notFound)
	}
	if err != nil {
		log.ErrorContext(ctx, "describe instance failed", slog.Any("error", err))
		return nil, err
	}
	res.PrivateIP = aws.ToString(inst.PrivateIpAddress)
	res.IPv6 = aws.ToString(inst.Ipv6Address)
	if inst.Placement != nil {
		res.AZ = aws.ToString(inst.Placement.AvailabilityZone)
	}
	if inst.State != nil {
		res.State = string(inst.State.Name)
	}
	if plan.Action == workflow.ActionRegister {
		if slices.Contains(gone, res.State) {
			return nil, instanceNotFound(plan.InstanceID, "is "+res.State+": there is nothing to register")
		}
		if res.PrivateIP == "" {
			return nil, instanceNotFound(plan.InstanceID, "has no private IPv4 address: asgdns registers A records")
		}
	}
	tags := make(map[string]string, len(inst.Tags))
	for _, t := range inst.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	record, err := settings.Record(config.Instance{ID: plan.InstanceID, ASG: plan.ASG, AZ: res.AZ, Tags: tags})
	if err != nil {
		log.ErrorContext(ctx, "invalid hostname", slog.Any("error", err))
		return nil, err
	}
	h.setRecord(res, settings, record)
	log.InfoContext(ctx, "instance described", slog.String("action", string(res.Action)),
		slog.String("fqdn", record.FQDN), slog.String("ip", res.PrivateIP))
	return res, nil
}

func (h *Handler) setRecord(res *workflow.InstanceResult, settings config.Settings, record workflow.Record) {
	res.Record = &record
	res.Target = &workflow.Target{
		DCInstanceIDs: settings.DCInstanceIDs, DCPlatform: settings.DCPlatform, DocumentName: settings.DocumentName,
	}
}

// leaving reads the instance's lifecycle state in its group (into
// res.LifecycleState) and reports whether it is gone or on its way out.
func (h *Handler) leaving(ctx context.Context, res *workflow.InstanceResult) (bool, error) {
	out, err := h.AutoScaling.DescribeAutoScalingInstances(ctx, &autoscaling.DescribeAutoScalingInstancesInput{
		InstanceIds: []string{res.InstanceID}})
	if err != nil {
		return false, workflow.FromAWS("autoscaling:DescribeAutoScalingInstances "+res.InstanceID, err,
			"allow autoscaling:DescribeAutoScalingInstances to the DescribeInstance function's role")
	}
	for _, i := range out.AutoScalingInstances {
		if aws.ToString(i.InstanceId) == res.InstanceID {
			res.LifecycleState = aws.ToString(i.LifecycleState)
			return workflow.LeavingGroup(res.LifecycleState, true), nil
		}
	}
	res.LifecycleState = "not in any group"
	return true, nil
}

// launchOutlived handles a launch whose instance is leaving or has left its
// group before the launch finished (terminated while held, spot reclaim,
// hook expired and ABANDONed): nothing to register. If this execution
// already sent a register command, the record it may have written is
// removed, by the name it registered. The lifecycle action is gone with the
// instance, so there is nothing to complete.
func (h *Handler) launchOutlived(ctx context.Context, log *slog.Logger, res *workflow.InstanceResult, prior workflow.State, settings config.Settings) (*workflow.InstanceResult, error) {
	res.Complete = false
	// Any command this execution sent may have written the record: the
	// register, or an earlier round of this removal that failed midway.
	kept, ok := keptRecord(prior)
	if prior.Command == nil || !ok {
		res.Action = workflow.ActionNone
		res.Reason = "the instance is " + res.LifecycleState + " before it was registered: nothing to register, nothing to complete"
		log.InfoContext(ctx, "launch outlived its instance", slog.String("reason", res.Reason))
		return res, nil
	}
	res.Action = workflow.ActionDeregister
	res.Reason = "the instance is " + res.LifecycleState + " before the launch finished: removing the record this launch wrote"
	return h.deregisterKept(ctx, log, res, settings, kept)
}

// keptRecord is the record an earlier step of this execution derived (a
// round of the hold loop, the registration of a launch that is now being
// undone) or that a replay carried over from the failed execution: a
// removal uses the name that was registered, never one derived again from
// an instance that may be gone.
func keptRecord(prior workflow.State) (*workflow.InstanceResult, bool) {
	inst := prior.Instance
	if inst == nil || inst.Record == nil || config.CheckRecord(*inst.Record) != nil {
		return nil, false
	}
	return inst, true
}

// deregisterKept removes the record kept in the state.
func (h *Handler) deregisterKept(ctx context.Context, log *slog.Logger, res *workflow.InstanceResult, settings config.Settings, kept *workflow.InstanceResult) (*workflow.InstanceResult, error) {
	record := *kept.Record
	if workflow.ValidIPv4(kept.PrivateIP) {
		res.PrivateIP = kept.PrivateIP
	}
	res.Reason += "; removing " + record.FQDN + ", the name in the state"
	h.setRecord(res, settings, record)
	log.InfoContext(ctx, "deregistering the kept record", slog.String("fqdn", record.FQDN))
	return res, nil
}

// describe reads one instance; an instance EC2 does not know is InstanceNotFound.
func (h *Handler) describe(ctx context.Context, id string) (*types.Instance, error) {
	out, err := h.EC2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return nil, workflow.FromAWS("ec2:DescribeInstances "+id, err,
			"allow ec2:DescribeInstances to the DescribeInstance function's role")
	}
	for _, r := range out.Reservations {
		for i := range r.Instances {
			if aws.ToString(r.Instances[i].InstanceId) == id {
				return &r.Instances[i], nil
			}
		}
	}
	return nil, instanceNotFound(id, "is not returned by ec2:DescribeInstances")
}

// deregisterGone derives the record of an instance EC2 no longer knows from
// what the event carries (ASG name, instance id).
func (h *Handler) deregisterGone(ctx context.Context, log *slog.Logger, res *workflow.InstanceResult, settings config.Settings, notFound error) (*workflow.InstanceResult, error) {
	if t, err := config.ParseTemplate(settings.HostnameTemplate); err == nil && t.UsesLiveFacts() {
		err := instanceNotFound(res.InstanceID, "is gone, and the hostname template "+settings.HostnameTemplate+
			" needs its tags or AZ, so its record cannot be derived any more")
		log.ErrorContext(ctx, "instance gone", slog.Any("error", err), slog.Any("cause", notFound))
		return nil, err
	}
	record, err := settings.Record(config.Instance{ID: res.InstanceID, ASG: res.ASG})
	if err != nil {
		log.ErrorContext(ctx, "invalid hostname", slog.Any("error", err))
		return nil, err
	}
	res.State = "gone"
	res.Reason += "; the instance is already gone, its record is removed by ownership"
	h.setRecord(res, settings, record)
	log.InfoContext(ctx, "instance gone, deregistering by ownership", slog.String("fqdn", record.FQDN))
	return res, nil
}

func instanceNotFound(id, reason string) error {
	return &workflow.InstanceNotFound{Problem: workflow.Problem{
		Field: "instance", Value: id, Reason: reason,
		Fix: "nothing to do if the instance is gone; replay the execution if it was a transient EC2 state",
	}}
}
