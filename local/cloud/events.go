package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/asgdns/asgdns/local/eventpattern"
	"github.com/asgdns/asgdns/local/wire"
)

// EventBridge: each account's default event bus, rules with an event
// pattern and a Go target, PutEvents, and delivery with retries and a
// dead-letter queue (an SQS queue of the world: sqs.go).

// Target receives the events a rule matches, as EventBridge delivers them
// (the whole event). An error means the delivery failed and is retried.
type Target func(ctx context.Context, event json.RawMessage) error

// RetryPolicy is a rule target's retry policy.
type RetryPolicy struct {
	MaximumRetryAttempts int
	MaximumEventAge      time.Duration
}

// defaultRetryPolicy is EventBridge's: 185 retries over 24 hours.
var defaultRetryPolicy = RetryPolicy{MaximumRetryAttempts: 185, MaximumEventAge: 24 * time.Hour}

// Rule routes the events of an account's default bus that match Pattern
// to Target.
type Rule struct {
	Name string
	// Account whose default bus the rule is on; AppAccount when empty.
	Account string
	// Pattern is an EventBridge event pattern (JSON).
	Pattern json.RawMessage
	Target  Target
	// RetryPolicy for failed deliveries; EventBridge's default (185
	// retries, 24 hours) when nil. Retries back off exponentially from
	// one second up to a minute, on the world's clock.
	RetryPolicy *RetryPolicy
	// TargetARN is the target's Arn (what Target stands for): the
	// TARGET_ARN of its dead letters.
	TargetARN string
	// DeadLetterQueueARN is the target's DeadLetterConfig.Arn: the SQS
	// queue (CreateQueue) an event goes to once the retry policy is
	// spent. Without one the event is dropped, as EventBridge drops it.
	DeadLetterQueueARN string
}

type rule struct {
	Rule
	matcher *eventpattern.Pattern
}

// OnEvent adds a rule. Its pattern is checked as PutRule checks it.
func (c *Cloud) OnEvent(r Rule) error {
	if r.Account == "" {
		r.Account = AppAccount
	}
	if r.Target == nil {
		return fmt.Errorf("cloud: rule %s has no target", r.Name)
	}
	if r.RetryPolicy == nil {
		p := defaultRetryPolicy
		r.RetryPolicy = &p
	}
	m, err := eventpattern.Compile(r.Pattern)
	if err != nil {
		return fmt.Errorf("cloud: rule %s: %w", r.Name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rules = append(c.rules, &rule{Rule: r, matcher: m})
	return nil
}

// ruleARN is the rule's ARN on its account's default bus.
func (c *Cloud) ruleARN(r *rule) string {
	return "arn:aws:events:" + c.region + ":" + r.Account + ":rule/" + r.Name
}

// DeadLetter puts an event in the dead-letter queue of the account's rule,
// as EventBridge does for an error it does not retry (a missing
// permission, a target that no longer exists): no
// EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS 0. errorCode and errorMessage
// are the ERROR_CODE and ERROR_MESSAGE attributes (EventBridge's codes
// include NO_PERMISSIONS, NO_RESOURCE, THROTTLING, TIMEOUT,
// SDK_CLIENT_ERROR). It is for tests that cannot easily make a delivery
// fail; the account must have exactly one rule with a dead-letter queue.
func (c *Cloud) DeadLetter(account string, event json.RawMessage, errorCode, errorMessage string) error {
	if !json.Valid(event) {
		return fmt.Errorf("cloud: DeadLetter: the event is not JSON: %s", event)
	}
	if errorCode == "" || errorMessage == "" {
		return errors.New("cloud: DeadLetter: an error code and message are required (SQS refuses empty attribute values)")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var found []*rule
	for _, r := range c.rules {
		if r.Account == account && r.DeadLetterQueueARN != "" {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		return fmt.Errorf("cloud: DeadLetter: account %s has %d rules with a dead-letter queue, want 1", account, len(found))
	}
	r := found[0]
	return c.sendDeadLetterLocked(r.DeadLetterQueueARN, event, deadLetter{ruleARN: c.ruleARN(r), targetARN: r.TargetARN,
		errorCode: errorCode, errorMessage: errorMessage})
}

// deliveryErrorCode is the ERROR_CODE of a failed delivery: TIMEOUT
// when the target did not answer in time, else SDK_CLIENT_ERROR (the
// target's service refused the call). Both are in the user guide's
// sample list of codes; which one real EventBridge gives each failure of
// a Step Functions target is not documented, and this mapping is the
// rig's assumption.
func deliveryErrorCode(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return "TIMEOUT"
	}
	return "SDK_CLIENT_ERROR"
}

// event is an EventBridge event envelope, in the order AWS writes it.
type event struct {
	Version    string   `json:"version"`
	ID         string   `json:"id"`
	DetailType string   `json:"detail-type"`
	Source     string   `json:"source"`
	Account    string   `json:"account"`
	Time       string   `json:"time"`
	Region     string   `json:"region"`
	Resources  []string `json:"resources"`
	Detail     any      `json:"detail"`
}

// publish puts an event on an account's default bus (caller holds c.mu).
func (c *Cloud) publish(account, source, detailType string, resources []string, detail any) string {
	if resources == nil {
		resources = []string{}
	}
	ev := event{
		Version: "0", ID: newUUID(), DetailType: detailType, Source: source, Account: account,
		Time: c.clock.Now().UTC().Format("2006-01-02T15:04:05Z"), Region: c.region, Resources: resources, Detail: detail,
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		panic(err) // detail types are ours
	}
	c.route(account, raw)
	return ev.ID
}

// route hands an event to every matching rule on the account's bus
// (caller holds c.mu).
func (c *Cloud) route(account string, raw json.RawMessage) {
	c.log.Info("event", "account", account, "event", string(raw))
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return
	}
	for _, r := range c.rules {
		if r.Account == account && r.matcher.Matches(doc) {
			c.deliver(r, raw, 1, c.clock.Now())
		}
	}
}

// deliver schedules one delivery attempt; a failure is retried with
// backoff until the rule's retry policy is spent, then dead-lettered.
func (c *Cloud) deliver(r *rule, raw json.RawMessage, attempt int, first time.Time) {
	delay := time.Duration(0)
	if attempt > 1 {
		delay = min(time.Second<<(attempt-2), time.Minute)
	}
	c.clock.AfterFunc(delay, func() {
		c.goBackground(func() {
			err := r.Target(c.base, raw)
			c.mu.Lock()
			defer c.mu.Unlock()
			if err == nil || c.closed {
				return
			}
			age := c.clock.Now().Sub(first)
			c.log.Warn("event delivery failed", "rule", r.Name, "attempt", attempt, "error", err.Error())
			next := min(time.Second<<(attempt-1), time.Minute)
			if attempt <= r.RetryPolicy.MaximumRetryAttempts && age+next <= r.RetryPolicy.MaximumEventAge {
				c.deliver(r, raw, attempt+1, first)
				return
			}
			exhausted := "MaximumEventAgeInSeconds"
			if attempt > r.RetryPolicy.MaximumRetryAttempts {
				exhausted = "MaximumRetryAttempts"
			}
			if r.DeadLetterQueueARN == "" {
				c.log.Warn("event dropped", "rule", r.Name, "attempts", attempt, "exhausted", exhausted)
				return
			}
			message := err.Error()
			if message == "" {
				message = fmt.Sprintf("%T", err)
			}
			dl := deadLetter{ruleARN: c.ruleARN(r), targetARN: r.TargetARN, errorCode: deliveryErrorCode(err),
				errorMessage: message, exhausted: exhausted, retries: attempt - 1}
			if dlqErr := c.sendDeadLetterLocked(r.DeadLetterQueueARN, raw, dl); dlqErr != nil {
				c.log.Error("event lost: InvocationsFailedToBeSentToDlq", "rule", r.Name, "error", dlqErr.Error())
			}
		})
	})
}

// Inject puts a whole event (an envelope as EventBridge delivers it, e.g.
// a fixture) on the default bus of the account it names, as AWS services
// do: no PutEvents source restriction applies.
func (c *Cloud) Inject(raw json.RawMessage) error {
	var env struct {
		Account string `json:"account"`
		Source  string `json:"source"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Account == "" || env.Source == "" {
		return fmt.Errorf("cloud: inject: not an event with account and source: %s", raw)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.route(env.Account, raw)
	return nil
}

// --- the API ----------------------------------------------------------------

type putEventsEntry struct {
	Source       string      `json:"Source"`
	DetailType   string      `json:"DetailType"`
	Detail       string      `json:"Detail"`
	Resources    []string    `json:"Resources"`
	Time         *wire.Epoch `json:"Time"`
	EventBusName string      `json:"EventBusName"`
	TraceHeader  string      `json:"TraceHeader"`
}

type putEventsResultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

func (c *Cloud) putEvents(cl *call) (any, *wire.Error) {
	var in struct {
		Entries    []putEventsEntry `json:"Entries"`
		EndpointID string           `json:"EndpointId"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		return nil, wire.NewError(http.StatusBadRequest, "ValidationException",
			"1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	busARN := "arn:aws:events:" + c.region + ":" + cl.caller.Account + ":event-bus/default"
	if !c.allows(cl.caller, "events:PutEvents", busARN, nil) {
		return nil, wire.NewError(http.StatusBadRequest, "AccessDeniedException", "%s", notAuthorized(cl.caller, "events:PutEvents", busARN))
	}
	out := struct {
		FailedEntryCount int                    `json:"FailedEntryCount"`
		Entries          []putEventsResultEntry `json:"Entries"`
	}{Entries: []putEventsResultEntry{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range in.Entries {
		res := c.putEvent(cl.caller.Account, busARN, e)
		if res.ErrorCode != "" {
			out.FailedEntryCount++
		}
		out.Entries = append(out.Entries, res)
	}
	return out, nil
}

// putEvent validates and publishes one entry (caller holds c.mu).
func (c *Cloud) putEvent(account, busARN string, e putEventsEntry) putEventsResultEntry {
	invalid := func(field string) putEventsResultEntry {
		return putEventsResultEntry{ErrorCode: "InvalidArgument",
			ErrorMessage: fmt.Sprintf("Parameter %s is not valid. Reason: %s is a required argument.", field, field)}
	}
	switch {
	case e.Source == "":
		return invalid("Source")
	case e.DetailType == "":
		return invalid("DetailType")
	case e.Detail == "":
		return invalid("Detail")
	}
	if bus := e.EventBusName; bus != "" && bus != "default" && bus != busARN {
		return putEventsResultEntry{ErrorCode: "ResourceNotFoundException", ErrorMessage: fmt.Sprintf("Event bus %s does not exist.", bus)}
	}
	var detail map[string]any
	if err := json.Unmarshal([]byte(e.Detail), &detail); err != nil || detail == nil {
		return putEventsResultEntry{ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed."}
	}
	// Sources under aws. are the services' own: no one else may send them.
	if strings.HasPrefix(e.Source, "aws.") {
		return putEventsResultEntry{ErrorCode: "NotAuthorizedForSourceException", ErrorMessage: "Not authorized for the source."}
	}
	at := c.clock.Now()
	if e.Time != nil {
		at = time.Time(*e.Time)
	}
	ev := event{
		Version: "0", ID: newUUID(), DetailType: e.DetailType, Source: e.Source, Account: account,
		Time: at.UTC().Format("2006-01-02T15:04:05Z"), Region: c.region, Resources: e.Resources, Detail: json.RawMessage(e.Detail),
	}
	if ev.Resources == nil {
		ev.Resources = []string{}
	}
	raw, _ := json.Marshal(ev)
	c.route(account, raw)
	return putEventsResultEntry{EventID: ev.ID}
}

func (c *Cloud) testEventPattern(cl *call) (any, *wire.Error) {
	var in struct {
		EventPattern string `json:"EventPattern"`
		Event        string `json:"Event"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	m, err := eventpattern.Compile(json.RawMessage(in.EventPattern))
	if err != nil {
		return nil, wire.NewError(http.StatusBadRequest, "InvalidEventPatternException", "Event pattern is not valid. Reason: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(in.Event), &doc); err != nil {
		return nil, wire.NewError(http.StatusBadRequest, "InvalidEventPatternException", "Parameter Event is not valid. Reason: it is not a JSON object")
	}
	var missing []string
	for _, f := range []string{"id", "account", "source", "time", "region", "resources", "detail-type"} {
		if _, ok := doc[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, wire.NewError(http.StatusBadRequest, "InvalidEventPatternException", "Parameter Event is not valid. Reason: Provided Event is missing required fields: [%s]", strings.Join(missing, ", "))
	}
	return struct {
		Result bool `json:"Result"`
	}{m.Matches(doc)}, nil
}
