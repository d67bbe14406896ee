// Package send is the logic of functions/send-command: its Handler, over narrow
// interfaces of the AWS SDK clients main.go wires in.
package send

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/crossaccount"
)

// ssmAPI is the one SSM call this step makes.
type ssmAPI interface {
	SendCommand(ctx context.Context, params *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
}

var _ ssmAPI = (*ssm.Client)(nil)

// Handler is the SendCommand step.
type Handler struct {
	SSM ssmAPI
	// Credentials returns the shared-services session for one instance's
	// execution: (*crossaccount.Provider).For in production.
	Credentials func(instanceID, execution string) aws.CredentialsProvider
	// Now stamps CommandResult.SentAt, from which WaitForCommand measures
	// its grace period.
	Now func() time.Time
	Log *slog.Logger
}

const (
	// deliveryTimeout is SendCommand's TimeoutSeconds: a DC that has not
	// picked the command up within a minute is treated as unreachable
	// (Delivery Timed Out), and the state machine tries the next one rather
	// than holding the instance in Pending:Wait.
	deliveryTimeout = 60
	// maxComment is SendCommand's limit on Comment.
	maxComment = 100
	// sendFix is the advice for a refused SendCommand.
	sendFix = "deploy the shared-services stack's document and check the role may ssm:SendCommand it on the DC"
)

// Handle sends the DNS command for $.instance to a DC and returns the
// CommandResult for $.command. Everything is validated before any call: a
// bad state sends nothing and assumes no role.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*workflow.CommandResult, error) {
	req, err := workflow.DecodeRequest(payload)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid input", slog.Any("error", err))
		return nil, err
	}
	inst := req.State.Instance
	log := h.Log.With(req.LogAttrs()...)
	params, err := validate(inst)
	if err != nil {
		log.ErrorContext(ctx, "nothing sent", slog.Any("error", err))
		return nil, err
	}
	target := inst.Target

	// Every new try goes to the next DC in the list, round robin: a re-send
	// after a failed command (the previous attempt is in the state) and an
	// ASL retry of this Task (its retry count comes with the request).
	attempt := 1 + req.RetryCount
	if prev := req.State.Command; prev != nil && prev.Attempt > 0 {
		attempt += prev.Attempt
	}
	dc := target.DCInstanceIDs[(attempt-1)%len(target.DCInstanceIDs)]
	log = log.With(slog.String("dc", dc), slog.Int("attempt", attempt))

	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	out, err := h.SSM.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName:    aws.String(target.DocumentName),
		DocumentVersion: aws.String("$DEFAULT"),
		InstanceIds:     []string{dc},
		Parameters:      params,
		Comment:         aws.String(comment(inst.Action, inst.Record.FQDN, req.Execution)),
		TimeoutSeconds:  aws.Int32(deliveryTimeout),
		// One DC, and no tolerated failure: the command either ran there
		// or the step reports why not.
		MaxConcurrency: aws.String("1"),
		MaxErrors:      aws.String("0"),
		// With no group named, SSM writes to aws/ssm/<document>, which is
		// where WaitForCommand's errors tell the operator to look.
		CloudWatchOutputConfig: &types.CloudWatchOutputConfig{CloudWatchOutputEnabled: true},
	}, withCredentials(h.Credentials(inst.InstanceID, req.Execution)))
	if err != nil {
		err = crossaccount.RouteError("ssm:SendCommand "+dc, err, sendFix)
		log.ErrorContext(ctx, "send command failed", slog.Any("error", err))
		return nil, err
	}
	if out.Command == nil || aws.ToString(out.Command.CommandId) == "" {
		err := &workflow.Unavailable{Problem: workflow.Problem{Field: "ssm:SendCommand " + dc, Reason: "returned no command id"}}
		log.ErrorContext(ctx, "send command failed", slog.Any("error", err))
		return nil, err
	}
	res := &workflow.CommandResult{
		CommandID: aws.ToString(out.Command.CommandId), DCInstanceID: dc, Step: workflow.StepFor(target.DCPlatform),
		DocumentName: target.DocumentName, Action: inst.Action, Attempt: attempt, SentAt: h.Now().UTC(),
	}
	log.InfoContext(ctx, "command sent", slog.String("commandId", res.CommandID), slog.String("action", string(res.Action)),
		slog.String("fqdn", inst.Record.FQDN), slog.String("step", res.Step))
	return res, nil
}

// validate checks $.instance says what to send and where, and returns the
// document parameters (each checked against its allowedPattern).
func validate(inst *workflow.InstanceResult) (map[string][]string, error) {
	if inst == nil {
		return nil, invalidState("state.instance", "", "is missing")
	}
	switch inst.Action {
	case workflow.ActionRegister, workflow.ActionDeregister:
	case workflow.ActionNone:
		return nil, invalidState("state.instance.action", string(inst.Action),
			"says there is nothing to send (DescribeInstance: "+inst.Reason+")")
	default:
		return nil, invalidState("state.instance.action", string(inst.Action), "is not register or deregister")
	}
	t := inst.Target
	if t == nil {
		return nil, invalidState("state.instance.target", "", "is missing")
	}
	if len(t.DCInstanceIDs) == 0 {
		return nil, invalidState("state.instance.target.dcInstanceIds", "", "lists no DC")
	}
	for _, id := range t.DCInstanceIDs {
		if !workflow.ValidInstanceID(id) {
			return nil, invalidState("state.instance.target.dcInstanceIds", id, "is not an EC2 instance id")
		}
	}
	if workflow.StepFor(t.DCPlatform) == "" {
		return nil, invalidState("state.instance.target.dcPlatform", t.DCPlatform, "is not Windows or Linux")
	}
	if t.DocumentName == "" {
		return nil, invalidState("state.instance.target.documentName", "", "is empty")
	}
	return workflow.DocumentParameters(inst.Action, inst)
}

func invalidState(field, value, reason string) error {
	return &workflow.InvalidEvent{Problem: workflow.Problem{Field: field, Value: value, Reason: reason,
		Fix: "SendCommand runs after DescribeInstance chose register or deregister: check the state machine's Choice, or replay from DescribeInstance"}}
}

// withCredentials makes one SSM call with the shared-services session.
func withCredentials(p aws.CredentialsProvider) func(*ssm.Options) {
	return func(o *ssm.Options) { o.Credentials = p }
}

// comment is "asgdns <action> <fqdn> <execution>" within SSM's 100
// characters. The execution name is what finds the run in Step Functions, so
// when the whole does not fit the FQDN gives way first.
func comment(action workflow.Action, fqdn, execution string) string {
	c := fmt.Sprintf("asgdns %s %s %s", action, fqdn, execution)
	if over := len(c) - maxComment; over > 0 {
		keep := max(len(fqdn)-over-len("…"), 0)
		c = fmt.Sprintf("asgdns %s %s… %s", action, truncate(fqdn, keep), execution)
	}
	// Only an execution name near its 80-character limit gets here.
	return truncate(c, maxComment)
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
