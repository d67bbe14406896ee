package operate

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/asgdns/asgdns/workflow"
)

// usageError is bad input: the command prints it with a pointer to -h and
// exits 2 without calling AWS.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// commonFlags are the flags both commands share: which state machine, which
// executions, how to print, how to reach AWS.
type commonFlags struct {
	stateMachineARN string
	stack           string
	since, until    string
	statuses        statusList
	asg, instance   string
	json            bool
	profile, region string
	readRate        float64
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.stateMachineARN, "state-machine-arn", "", "the asgdns state machine `ARN`, or its alias or version ARN (or use --stack)")
	fs.StringVar(&c.stack, "stack", "", "the application stack `NAME` whose StateMachineArn and StateMachineAliasArn outputs name the state machine")
	fs.StringVar(&c.since, "since", "", "only executions started at or after `TIME` (RFC 3339, or relative: 90m, 2h, 7d)")
	fs.StringVar(&c.until, "until", "", "only executions started at or before `TIME` (RFC 3339, or relative)")
	fs.Var(&c.statuses, "status", "only executions in `STATUS`: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE (repeatable, or a comma list)")
	fs.StringVar(&c.asg, "asg", "", "only executions for the Auto Scaling group `NAME`")
	fs.StringVar(&c.instance, "instance", "", "only executions for the instance `ID`")
	fs.BoolVar(&c.json, "json", false, "print one JSON document instead of a table")
	fs.StringVar(&c.profile, "profile", "", "AWS shared configuration `PROFILE` (default: AWS_PROFILE or default)")
	fs.StringVar(&c.region, "region", "", "AWS `REGION` (default: AWS_REGION or the profile's)")
	fs.Float64Var(&c.readRate, "read-rate", 10, "at most `N` ListExecutions/DescribeExecution/GetExecutionHistory calls per second")
}

// query is a validated selection of executions. Zero times are open ends.
type query struct {
	Since, Until time.Time
	Statuses     []types.ExecutionStatus
	ASG          string
	Instance     string
}

// validate checks every flag, naming the flag at fault, and resolves
// relative times against now.
func (c *commonFlags) validate(now time.Time) (query, error) {
	var q query
	switch {
	case c.stateMachineARN != "" && c.stack != "":
		return q, usagef("--state-machine-arn and --stack: give one, not both")
	case c.stateMachineARN == "" && c.stack == "":
		return q, usagef("--state-machine-arn or --stack is required")
	case c.stateMachineARN != "":
		if _, _, err := splitStateMachineARN(c.stateMachineARN); err != nil {
			return q, usagef("--state-machine-arn: %v", err)
		}
	}
	var err error
	if q.Since, err = parseTime(c.since, now); err != nil {
		return q, usagef("--since: %v", err)
	}
	if q.Until, err = parseTime(c.until, now); err != nil {
		return q, usagef("--until: %v", err)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Since.After(q.Until) {
		return q, usagef("--since %s is after --until %s: the window is empty",
			q.Since.Format(time.RFC3339), q.Until.Format(time.RFC3339))
	}
	q.Statuses = c.statuses
	if c.instance != "" && !workflow.ValidInstanceID(c.instance) {
		return q, usagef("--instance %q is not an EC2 instance id (i- and 8 or 17 hex digits)", c.instance)
	}
	q.ASG, q.Instance = c.asg, c.instance
	if c.readRate <= 0 {
		return q, usagef("--read-rate must be more than 0 calls per second")
	}
	return q, nil
}

// relative is a duration before now: Go's units (90s, 30m, 2h, 1h30m) plus
// whole days (7d, 1d12h), which is how operators think of a window.
var relative = regexp.MustCompile(`^(?:(\d+)d)?(.*)$`)

// parseTime reads an RFC 3339 time or a relative duration ("2h" = two hours
// ago). Empty is the zero time: no bound.
func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	bad := fmt.Errorf("%q is neither an RFC 3339 time (2026-11-20T08:00:00Z) nor a duration before now (90m, 2h, 7d)", s)
	m := relative.FindStringSubmatch(s)
	var d time.Duration
	if m[1] != "" {
		days, err := strconv.Atoi(m[1])
		if err != nil {
			return time.Time{}, bad
		}
		d = time.Duration(days) * 24 * time.Hour
	}
	if m[2] != "" {
		rest, err := time.ParseDuration(m[2])
		if err != nil {
			return time.Time{}, bad
		}
		d += rest
	}
	if d <= 0 {
		return time.Time{}, bad
	}
	return now.Add(-d), nil
}

// allStatuses are the execution statuses Step Functions reports.
var allStatuses = []types.ExecutionStatus{
	types.ExecutionStatusRunning, types.ExecutionStatusSucceeded, types.ExecutionStatusFailed,
	types.ExecutionStatusTimedOut, types.ExecutionStatusAborted, types.ExecutionStatusPendingRedrive,
}

// statusList is the repeatable, comma-separated --status flag.
type statusList []types.ExecutionStatus

func (s *statusList) String() string {
	names := make([]string, len(*s))
	for i, v := range *s {
		names[i] = string(v)
	}
	return strings.Join(names, ",")
}

func (s *statusList) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		status := types.ExecutionStatus(strings.ToUpper(strings.TrimSpace(part)))
		if !slices.Contains(allStatuses, status) {
			return fmt.Errorf("unknown status %q (want one of %s)", part, joinStatuses(allStatuses))
		}
		if !slices.Contains(*s, status) {
			*s = append(*s, status)
		}
	}
	return nil
}

func joinStatuses(statuses []types.ExecutionStatus) string {
	l := statusList(statuses)
	return strings.ReplaceAll(l.String(), ",", ", ")
}

// parseFlags parses args, turning -h into ErrHelp and any other problem into
// a usageError. flag already printed its own message for a parse error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{} // flag printed the message and the usage
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (flags only)", fs.Arg(0))
	}
	return nil
}
