// Package assume is the logic of functions/assume-role: its Handler, over narrow
// interfaces of the AWS SDK clients main.go wires in.
package assume

import (
	"context"
	"log/slog"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/crossaccount"
)

// Handler is the AssumeRole step.
type Handler struct {
	// Roles assumes the shared-services role; its STS client is the only
	// AWS dependency of this step.
	Roles *crossaccount.Provider
	Log   *slog.Logger
}

// Handle checks the state carries DescribeInstance's result for an instance
// with DNS work, then assumes the shared-services role and returns the
// SessionResult for $.session. Nothing is sent to STS for invalid input.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*workflow.SessionResult, error) {
	req, err := workflow.DecodeRequest(payload)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid input", slog.Any("error", err))
		return nil, err
	}
	inst := req.State.Instance
	if err := checkInstance(inst); err != nil {
		h.Log.ErrorContext(ctx, "invalid state", slog.String("execution", req.Execution), slog.Any("error", err))
		return nil, err
	}
	log := h.Log.With(req.LogAttrs()...)

	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	res, err := h.Roles.Verify(ctx, inst.InstanceID, req.Execution)
	if err != nil {
		log.ErrorContext(ctx, "assume role failed", slog.Any("error", err))
		return nil, err
	}
	// Only the session's parameters are logged: the credentials never leave
	// Verify, and the ExternalId is kept out of logs by design.
	log.InfoContext(ctx, "cross-account session verified",
		slog.String("assumedRoleArn", res.AssumedRoleARN), slog.String("account", res.Account),
		slog.Time("expires", res.Expires))
	return &res, nil
}

// checkInstance rejects a state the ASL should never hand this step: without
// DescribeInstance's result there is no validated instance to name the
// session after, and an instance without DNS work has no business in the
// shared-services account.
func checkInstance(inst *workflow.InstanceResult) error {
	switch {
	case inst == nil:
		return invalid("instance", "", "is missing: DescribeInstance's result is not in the state",
			"run AssumeRole after DescribeInstance, whose ResultPath is $.instance")
	case inst.Action != workflow.ActionRegister && inst.Action != workflow.ActionDeregister:
		return invalid("instance.action", string(inst.Action), "is not register or deregister: there is no DNS work to do",
			"skip the DNS steps when $.instance.action is none (a Choice state before AssumeRole)")
	case !workflow.ValidInstanceID(inst.InstanceID):
		return invalid("instance.instanceId", inst.InstanceID,
			"is not an EC2 instance id (i- followed by 8 or 17 lower-case hex digits)",
			"pass the state as DescribeInstance left it")
	}
	return nil
}

func invalid(field, value, reason, fix string) error {
	return &workflow.InvalidEvent{Problem: workflow.Problem{Field: field, Value: value, Reason: reason, Fix: fix}}
}
