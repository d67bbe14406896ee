// Package send is the logic of functions/send-command: its Handler, over narrow
// interfaces of the AWS SDK clients main.go wires in.
package send

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
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
	// Log receives the step's log lines and its metrics (metrics.go).
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
	// The DCs tried so far in this execution decide where this try goes:
	// the one after the last tried, round robin. Only DCs actually tried
	// count (a command sent, or the DC found not online), so a throttled
	// or retried call never uses one up.
	tried := 0
	if prev := req.State.Command; prev != nil && prev.Attempt > 0 {
		tried = prev.Attempt
	}
	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	creds := withCredentials(h.Credentials(inst.InstanceID, req.Execution))
	var skipped []string
	for i := range target.DCInstanceIDs {
		dc := target.DCInstanceIDs[(tried+i)%len(target.DCInstanceIDs)]
		dcLog := log.With(slog.String("dc", dc), slog.Int("attempt", tried+i+1))
		id, err := h.send(ctx, dc, params, inst, req.Execution, creds)
		if workflow.ErrorCode(err) == "InvalidInstanceId" {
			// SSM does not have this DC online: a reason to try the
			// next one now, like a failed command.
			dcLog.WarnContext(ctx, "DC not online, trying the next", slog.Any("error", err))
			emit(ctx, log, h.Now().UTC(), MetricDCSkipped, dc)
			skipped = append(skipped, dc)
			continue
		}
		if err != nil {
			err = crossaccount.RouteError("ssm:SendCommand "+dc, err, sendFix)
			dcLog.ErrorContext(ctx, "send command failed", slog.Any("error", err))
			return nil, err
		}
		res := &workflow.CommandResult{
			CommandID: id, DCInstanceID: dc, Step: workflow.StepFor(target.DCPlatform), DocumentName: target.DocumentName,
			Action: inst.Action, Attempt: tried + i + 1, Skipped: skipped, SentAt: h.Now().UTC(),
		}
		dcLog.InfoContext(ctx, "command sent", slog.String("commandId", res.CommandID), slog.String("action", string(res.Action)),
			slog.String("fqdn", inst.Record.FQDN), slog.String("step", res.Step), slog.Any("skipped", skipped))
		emit(ctx, log, res.SentAt, MetricCommandsSent, dc)
		return res, nil
	}
	err = &workflow.Unavailable{Problem: workflow.Problem{
		Field: "ssm:SendCommand", Value: strings.Join(skipped, ","), Reason: "no DC is online in Systems Manager (InvalidInstanceId)",
		Fix: "check the DCs run SSM Agent and show Online in Fleet Manager of the shared-services account; instances are held meanwhile (up to the hold budget)"}}
	log.ErrorContext(ctx, "no DC online", slog.Any("error", err))
	return nil, err
}

// send sends the DNS command to one DC and returns its command id.
func (h *Handler) send(ctx context.Context, dc string, params map[string][]string, inst *workflow.InstanceResult, execution string, creds func(*ssm.Options)) (string, error) {
	out, err := h.SSM.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName:    aws.String(inst.Target.DocumentName),
		DocumentVersion: aws.String("$DEFAULT"),
		InstanceIds:     []string{dc},
		Parameters:      params,
		Comment:         aws.String(comment(inst.Action, inst.Record.FQDN, execution)),
		TimeoutSeconds:  aws.Int32(deliveryTimeout),
		// One DC, and no tolerated failure: the command either ran there
		// or the step reports why not.
		MaxConcurrency: aws.String("1"),
		MaxErrors:      aws.String("0"),
		// With no group named, SSM writes to aws/ssm/<document>, which is
		// where WaitForCommand's errors tell the operator to look.
		CloudWatchOutputConfig: &types.CloudWatchOutputConfig{CloudWatchOutputEnabled: true},
	}, creds)
	if err != nil {
		return "", err
	}
	if out.Command == nil || aws.ToString(out.Command.CommandId) == "" {
		return "", &workflow.Unavailable{Problem: workflow.Problem{Field: "ssm:SendCommand " + dc, Reason: "returned no command id"}}
	}
	return aws.ToString(out.Command.CommandId), nil
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
