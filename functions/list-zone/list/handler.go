// Package list is the logic of functions/list-zone: one page of the records
// this application account owns in one zone, read on a DC of the
// shared-services account by the DNS document's list action (DESIGN §9).
// functions/reconcile invokes it for each page; it is the one function of
// the reconciler that holds the shared-services session.
package list

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/asgdns/asgdns/functions/reconcile/contract"
	"github.com/asgdns/asgdns/workflow"
	"github.com/asgdns/asgdns/workflow/crossaccount"
)

// ssmAPI runs the DNS document's list action on a DC and reads its output,
// with the shared-services session.
type ssmAPI interface {
	SendCommand(ctx context.Context, params *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	GetCommandInvocation(ctx context.Context, params *ssm.GetCommandInvocationInput, optFns ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error)
}

var _ ssmAPI = (*ssm.Client)(nil)

// Handler lists one page.
type Handler struct {
	SSM ssmAPI
	// Credentials returns the shared-services session: (*crossaccount.Provider).For
	// in production, asked for contract.CredentialsSubject and the run id.
	Credentials func(instanceID, execution string) aws.CredentialsProvider
	// Now and Sleep are the clock; tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger
}

const (
	// Budget bounds how long one page's command is waited for, inside the
	// invocation (never past the function's deadline either); the
	// document's list step times out itself well before (timeoutSeconds).
	Budget = 3 * time.Minute
	// deliveryTimeout is SendCommand's TimeoutSeconds, as SendCommand's.
	deliveryTimeout = 60
	// The poll schedule: 1 s, 1.5 s, 2.25 s, ... capped at 5 s.
	firstWait = time.Second
	maxWait   = 5 * time.Second
	// pollReserve is kept back from the deadline for the last
	// GetCommandInvocation, so the budget never ends in a timeout.
	pollReserve = 2 * time.Second
	// grace is how long after SendCommand InvocationDoesNotExist means
	// "not visible yet" (Run Command is eventually consistent).
	grace = 30 * time.Second
	// maxComment is SendCommand's limit on Comment.
	maxComment = 100
	// maxDCs bounds the DCs a request names (as config bounds a stack's).
	maxDCs = 10
)

// documentPattern is an SSM document name (or ARN) as SendCommand takes it.
var documentPattern = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{3,128}$`)

// Handle reads one page: the list action sent to a DC of the request's
// (from the page's turn in the list, spreading pages over DCs, skipping
// those found not online), polled until it ends, its output parsed
// strictly. A page that cannot be read is a routed error: CommandFailed
// when a command ran and ended without a page, else the error of the call
// that failed.
func (h *Handler) Handle(ctx context.Context, payload []byte) (*contract.ListResult, error) {
	req, params, err := parse(payload)
	if err != nil {
		h.Log.ErrorContext(ctx, "invalid input: nothing sent", slog.Any("error", err))
		return nil, err
	}
	log := h.Log.With(slog.String("run", req.Run), slog.String("zone", req.Zone), slog.Int("page", req.Page))
	ctx, cancel := workflow.WithHeadroom(ctx)
	defer cancel()
	creds := withCredentials(h.Credentials(contract.CredentialsSubject, req.Run))
	step := workflow.StepFor(req.DCPlatform)
	res := &contract.ListResult{Offline: []string{}}
	dcs := req.DCInstanceIDs
	for i := range dcs {
		dc := dcs[(req.Page+i)%len(dcs)]
		if slices.Contains(req.Offline, dc) || slices.Contains(res.Offline, dc) {
			continue
		}
		out, err := h.SSM.SendCommand(ctx, &ssm.SendCommandInput{
			DocumentName: aws.String(req.DocumentName), DocumentVersion: aws.String("$DEFAULT"),
			InstanceIds: []string{dc}, Parameters: params,
			Comment:        aws.String(comment(fmt.Sprintf("asgdns list %s page %d reconcile %s", req.Zone, req.Page, req.Run))),
			TimeoutSeconds: aws.Int32(deliveryTimeout), MaxConcurrency: aws.String("1"), MaxErrors: aws.String("0"),
			CloudWatchOutputConfig: &types.CloudWatchOutputConfig{CloudWatchOutputEnabled: true},
		}, creds)
		if workflow.ErrorCode(err) == "InvalidInstanceId" {
			log.WarnContext(ctx, "DC not online, trying the next", slog.String("dc", dc))
			res.Offline = append(res.Offline, dc)
			continue
		}
		if err != nil {
			err = crossaccount.RouteError("ssm:SendCommand "+dc, err,
				"deploy the shared-services stack's document with the list action, and check its role may ssm:SendCommand it on the DC")
			log.ErrorContext(ctx, "page not read", slog.String("dc", dc), slog.Any("error", err))
			return nil, err
		}
		if out.Command == nil || aws.ToString(out.Command.CommandId) == "" {
			err := &workflow.Unavailable{Problem: workflow.Problem{Field: "ssm:SendCommand " + dc, Reason: "returned no command id"}}
			log.ErrorContext(ctx, "page not read", slog.String("dc", dc), slog.Any("error", err))
			return nil, err
		}
		res.DC, res.CommandID = dc, aws.ToString(out.Command.CommandId)
		log = log.With(slog.String("dc", dc), slog.String("commandId", res.CommandID))
		p, err := h.await(ctx, req, res.CommandID, dc, step, creds)
		if err != nil {
			log.WarnContext(ctx, "page not read", slog.Any("error", err))
			return nil, err
		}
		res.Listing = p
		log.InfoContext(ctx, "page read", slog.Int("owned", len(p.Owned)), slog.Int("pages", p.Pages), slog.Int("ownedTotal", p.OwnedTotal))
		return res, nil
	}
	err = &workflow.Unavailable{Problem: workflow.Problem{Field: "ssm:SendCommand", Value: strings.Join(dcs, ","),
		Reason: "no DC is online in Systems Manager (InvalidInstanceId)",
		Fix:    "check the DCs run SSM Agent and show Online in Fleet Manager of the shared-services account"}}
	log.ErrorContext(ctx, "page not read", slog.Any("error", err))
	return nil, err
}

// parse decodes and checks the request, and builds the list action's
// parameters.
func parse(payload []byte) (contract.ListRequest, map[string][]string, error) {
	var req contract.ListRequest
	if err := contract.Decode(bytes.TrimSpace(payload), &req, contract.ListRequestKeys...); err != nil {
		return req, nil, invalid("input", string(payload), "is not a JSON object of "+strings.Join(contract.ListRequestKeys, ", ")+": "+err.Error())
	}
	if !contract.RunPattern.MatchString(req.Run) {
		return req, nil, invalid("run", req.Run, "is not 1-36 of A-Z a-z 0-9 _ -")
	}
	if len(req.DCInstanceIDs) == 0 || len(req.DCInstanceIDs) > maxDCs {
		return req, nil, invalid("dcInstanceIds", strings.Join(req.DCInstanceIDs, ","), fmt.Sprintf("must name 1-%d DCs", maxDCs))
	}
	for _, id := range append(slices.Clone(req.DCInstanceIDs), req.Offline...) {
		if !workflow.ValidInstanceID(id) {
			return req, nil, invalid("dcInstanceIds", id, "is not an EC2 instance id")
		}
	}
	if workflow.StepFor(req.DCPlatform) == "" {
		return req, nil, invalid("dcPlatform", req.DCPlatform, "is not Windows or Linux")
	}
	if !documentPattern.MatchString(req.DocumentName) {
		return req, nil, invalid("documentName", req.DocumentName, "is not an SSM document name")
	}
	params, err := workflow.ListParameters(req.Zone, req.Page)
	return req, params, err
}

func invalid(field, value, reason string) error {
	return &workflow.InvalidEvent{Problem: workflow.Problem{Field: field, Value: value, Reason: reason,
		Fix: "list-zone is invoked by functions/reconcile with one page of a zone: invoke it as reconcile does"}}
}

// await polls one list command until it ends, within Budget (and the
// deadline), and parses its output.
func (h *Handler) await(ctx context.Context, req contract.ListRequest, commandID, dc, step string, creds func(*ssm.Options)) (workflow.ListingPage, error) {
	sent := h.Now()
	stop := sent.Add(Budget)
	if d, ok := ctx.Deadline(); ok && d.Add(-pollReserve).Before(stop) {
		stop = d.Add(-pollReserve)
	}
	in := &ssm.GetCommandInvocationInput{CommandId: aws.String(commandID), InstanceId: aws.String(dc), PluginName: aws.String(step)}
	where := "command " + commandID + " on " + dc
	logs := fmt.Sprintf("the command's output is in CloudWatch Logs of the shared-services account, log group aws/ssm/%s, streams %s/%s/",
		req.DocumentName, commandID, dc)
	failed := func(reason, fix string) error {
		return &workflow.CommandFailed{Problem: workflow.Problem{Field: where, Reason: reason, Fix: fix}}
	}
	for wait := firstWait; ; wait = min(wait*3/2, maxWait) {
		if h.Now().Add(wait).After(stop) {
			return workflow.ListingPage{}, failed(fmt.Sprintf("did not finish within %s", stop.Sub(sent).Round(time.Second)),
				"check the DC is not overloaded and its DNS server answers; the next run reads the page again; "+logs)
		}
		if err := h.Sleep(ctx, wait); err != nil {
			return workflow.ListingPage{}, &workflow.Unavailable{Problem: workflow.Problem{Field: where, Reason: "waiting was interrupted", Err: err}}
		}
		out, err := h.SSM.GetCommandInvocation(ctx, in, creds)
		if workflow.ErrorCode(err) == "InvocationDoesNotExist" && h.Now().Sub(sent) < grace {
			continue
		}
		if err != nil {
			return workflow.ListingPage{}, crossaccount.RouteError("ssm:GetCommandInvocation "+commandID+" on "+dc, err,
				"check the shared-services role may ssm:GetCommandInvocation")
		}
		stdout := aws.ToString(out.StandardOutputContent)
		switch out.Status {
		case types.CommandInvocationStatusPending, types.CommandInvocationStatusInProgress,
			types.CommandInvocationStatusDelayed, types.CommandInvocationStatusCancelling:
			continue
		case types.CommandInvocationStatusSuccess:
			p, err := workflow.ParseListing(stdout)
			var lf *workflow.ListFailed
			switch {
			case errors.As(err, &lf):
				return workflow.ListingPage{}, failed(lf.Error(), listFix(lf, logs))
			case err != nil:
				return workflow.ListingPage{}, failed("the listing does not parse, so none of it is used: "+err.Error(),
					"deploy the shared-services document that matches this version of asgdns; "+logs)
			case p.Zone != req.Zone || p.Page != req.Page:
				return workflow.ListingPage{}, failed(fmt.Sprintf("the listing is of zone %s page %d, not the zone %s page %d asked for",
					p.Zone, p.Page, req.Zone, req.Page), "deploy the shared-services document that matches this version of asgdns; "+logs)
			}
			return p, nil
		}
		// Ended otherwise: a list that failed still prints its result line.
		var lf *workflow.ListFailed
		if _, err := workflow.ParseListing(stdout); errors.As(err, &lf) {
			return workflow.ListingPage{}, failed(fmt.Sprintf("ended %s: %v", out.Status, lf), listFix(lf, logs))
		}
		return workflow.ListingPage{}, failed(fmt.Sprintf("ended %s (%s), exit code %d", out.Status, aws.ToString(out.StatusDetails), out.ResponseCode),
			"check the DC runs the document's list step (dcPlatform, SSM Agent online); "+logs)
	}
}

// listFix is the advice for a list that reported a failed read.
func listFix(lf *workflow.ListFailed, logs string) string {
	switch lf.Outcome.Outcome {
	case workflow.OutcomeZoneNotAllowed:
		return "add <application account>:<zone> to the shared-services stack's TenantZones parameter, or stop using the zone"
	case workflow.OutcomeInvalid:
		return "deploy the shared-services document that matches this version of asgdns; " + logs
	}
	return "check the DNS server on the DC answers and allows the zone transfer signed with asgdns's key; " + logs
}

// withCredentials makes one SSM call with the shared-services session.
func withCredentials(p aws.CredentialsProvider) func(*ssm.Options) {
	return func(o *ssm.Options) { o.Credentials = p }
}

// comment cuts c to SendCommand's 100 bytes (all ASCII).
func comment(c string) string { return c[:min(len(c), maxComment)] }
