package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/asgdns/asgdns/workflow"
)

// Environment variables of the reconciler (functions/reconcile, with
// functions/list-zone and functions/drain-dead-letters), besides the
// settings DescribeInstance reads (Load, LoadHookNames) and the
// shared-services role SendCommand assumes (LoadSession, list-zone's).
const (
	// EnvASGNames lists the ASGs the reconciler compares with the zone,
	// comma-separated: the ASGs the stack's EventBridge rule serves.
	EnvASGNames = "ASGDNS_ASG_NAMES"
	// EnvStateMachineARN is where repairs and drained dead letters start:
	// the state machine's alias ARN.
	EnvStateMachineARN = "ASGDNS_STATE_MACHINE_ARN"
	// EnvDeadLetterQueueURL is the EventBridge rule's dead-letter queue,
	// which functions/drain-dead-letters drains.
	EnvDeadLetterQueueURL = "ASGDNS_DEAD_LETTER_QUEUE_URL"
	// EnvListZoneFunction is functions/list-zone (name or ARN), which the
	// reconciler invokes for each page of a zone: the one function that
	// holds the shared-services session.
	EnvListZoneFunction = "ASGDNS_LIST_ZONE_FUNCTION"
	// EnvDrainFunction is functions/drain-dead-letters (name or ARN);
	// optional: without it there is nothing to drain.
	EnvDrainFunction = "ASGDNS_DRAIN_FUNCTION"
	// EnvRemovalFloor and EnvRemovalPercent set the sync removal cap
	// (reconcile.Limits); unset or 0 means reconcile's defaults.
	EnvRemovalFloor   = "ASGDNS_RECONCILE_REMOVAL_FLOOR"
	EnvRemovalPercent = "ASGDNS_RECONCILE_REMOVAL_PERCENT"
)

// maxASGNames bounds the reconciler's ASG list: a deployment serves a
// handful, and each costs Auto Scaling calls per run.
const maxASGNames = 100

// stateMachineARNPattern is a state machine, or one of its aliases or
// versions: arn:aws:states:eu-west-1:123456789012:stateMachine:name[:alias].
var stateMachineARNPattern = regexp.MustCompile(
	`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b):states:([a-z0-9-]+):([0-9]{12}):stateMachine:[A-Za-z0-9_-]{1,80}(:[A-Za-z0-9_-]{1,80})?$`)

// functionPattern is a Lambda function as Invoke names it: a name, a
// partial ARN (123456789012:function:name) or an ARN, with an optional
// version or alias (Lambda's own FunctionName pattern, anchored).
var functionPattern = regexp.MustCompile(
	`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_.]{1,140})(:(\$LATEST|[a-zA-Z0-9-_]{1,128}))?$`)

// Reconciler is the reconciler's own configuration.
type Reconciler struct {
	// ASGNames are the configured ASGs, in the order given, each once.
	ASGNames []string
	// StateMachineARN, and the Region and Account it names: the
	// application account, whose records the reconciler reads.
	StateMachineARN string
	Region          string
	Account         string
	// ListZoneFunction is the function that lists a page of a zone;
	// DrainFunction the one that drains the dead-letter queue, "" when
	// there is none.
	ListZoneFunction string
	DrainFunction    string
	// RemovalFloor and RemovalPercent are reconcile.Limits' fields: 0 means
	// reconcile's default (this package does not repeat the numbers).
	RemovalFloor   int
	RemovalPercent int
}

// Configured reports whether asg is one of the configured ASGs.
func (r Reconciler) Configured(asg string) bool { return slices.Contains(r.ASGNames, asg) }

// LoadReconciler reads the reconciler's settings. Required:
// ASGDNS_ASG_NAMES, ASGDNS_STATE_MACHINE_ARN and ASGDNS_LIST_ZONE_FUNCTION.
func LoadReconciler(env Lookup) (Reconciler, error) {
	names, err := required(env, EnvASGNames)
	if err != nil {
		return Reconciler{}, err
	}
	var r Reconciler
	for _, n := range splitList(names) {
		switch {
		case len(n) > 255:
			return Reconciler{}, envError(EnvASGNames, n, "is not an Auto Scaling group name (1-255 characters)")
		case slices.Contains(r.ASGNames, n):
			return Reconciler{}, envError(EnvASGNames, n, "is listed twice")
		}
		r.ASGNames = append(r.ASGNames, n)
	}
	if len(r.ASGNames) == 0 || len(r.ASGNames) > maxASGNames {
		return Reconciler{}, envError(EnvASGNames, names, fmt.Sprintf("must name 1-%d ASGs, comma-separated", maxASGNames))
	}
	if r.StateMachineARN, r.Region, r.Account, err = loadStateMachine(env); err != nil {
		return Reconciler{}, err
	}
	if r.ListZoneFunction, err = required(env, EnvListZoneFunction); err != nil {
		return Reconciler{}, err
	}
	if r.ListZoneFunction, err = function(EnvListZoneFunction, r.ListZoneFunction); err != nil {
		return Reconciler{}, err
	}
	if v, ok := env(EnvDrainFunction); ok && strings.TrimSpace(v) != "" {
		if r.DrainFunction, err = function(EnvDrainFunction, v); err != nil {
			return Reconciler{}, err
		}
	}
	if r.RemovalFloor, err = count(env, EnvRemovalFloor, 1<<20); err != nil {
		return Reconciler{}, err
	}
	if r.RemovalPercent, err = count(env, EnvRemovalPercent, 100); err != nil {
		return Reconciler{}, err
	}
	return r, nil
}

// count reads a whole number from 0 to most; unset is 0.
func count(env Lookup, name string, most int) (int, error) {
	v, ok := env(name)
	if !ok || strings.TrimSpace(v) == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > most {
		return 0, &workflow.InvalidConfig{Problem: workflow.Problem{
			Field: "environment variable " + name, Value: v,
			Reason: fmt.Sprintf("is not a whole number from 0 to %d", most),
			Fix:    "correct the stack parameter behind it, or leave it empty (0) for the reconciler's default"}}
	}
	return n, nil
}

// function checks a Lambda function name or ARN.
func function(name, v string) (string, error) {
	v = strings.TrimSpace(v)
	if !functionPattern.MatchString(v) {
		return "", envError(name, v, "is not a Lambda function name or ARN (arn:aws:lambda:<region>:<account>:function:<name>)")
	}
	return v, nil
}

// loadStateMachine reads ASGDNS_STATE_MACHINE_ARN and the region and
// account it names.
func loadStateMachine(env Lookup) (arn, region, account string, err error) {
	if arn, err = required(env, EnvStateMachineARN); err != nil {
		return "", "", "", err
	}
	m := stateMachineARNPattern.FindStringSubmatch(arn)
	if m == nil {
		return "", "", "", envError(EnvStateMachineARN, arn,
			"is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>[:<alias>])")
	}
	return arn, m[2], m[3], nil
}

// Drainer is functions/drain-dead-letters' configuration: the queue it
// drains, and the state machine it starts each event on.
type Drainer struct {
	StateMachineARN    string
	DeadLetterQueueURL string
}

// LoadDrainer reads the drain function's settings. Required:
// ASGDNS_STATE_MACHINE_ARN and ASGDNS_DEAD_LETTER_QUEUE_URL.
func LoadDrainer(env Lookup) (Drainer, error) {
	arn, _, _, err := loadStateMachine(env)
	if err != nil {
		return Drainer{}, err
	}
	v, err := required(env, EnvDeadLetterQueueURL)
	if err != nil {
		return Drainer{}, err
	}
	v = strings.TrimSpace(v)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return Drainer{}, envError(EnvDeadLetterQueueURL, v, "is not an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)")
	}
	return Drainer{StateMachineARN: arn, DeadLetterQueueURL: v}, nil
}
