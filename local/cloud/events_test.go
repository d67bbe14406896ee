package cloud

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

func TestPutEvents(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	if err := w.cloud.OnEvent(Rule{Name: "orders", Target: rec.target,
		Pattern: json.RawMessage(`{"source":["my.shop"],"detail":{"total":[{"numeric":[">",100]}]}}`)}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := w.events(keyCreds(keyAppOperator)).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{
		{Source: aws.String("my.shop"), DetailType: aws.String("Order"), Detail: aws.String(`{"total":150}`), Resources: []string{"arn:x"},
			Time: aws.Time(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
		{Source: aws.String("my.shop"), DetailType: aws.String("Order"), Detail: aws.String(`{"total":50}`)},
		{Source: aws.String("my.shop"), DetailType: aws.String("Order"), Detail: aws.String(`not json`)},
		{Source: aws.String("aws.autoscaling"), DetailType: aws.String("EC2 Instance-launch Lifecycle Action"), Detail: aws.String(`{}`)},
		{Source: aws.String("my.shop"), Detail: aws.String(`{}`)},
		{Source: aws.String("my.shop"), DetailType: aws.String("Order"), Detail: aws.String(`{}`), EventBusName: aws.String("other")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	type result struct{ code, message string }
	var got []result
	for _, e := range out.Entries {
		got = append(got, result{aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage)})
	}
	want := []result{
		{}, {},
		{"MalformedDetail", "Detail is malformed."},
		{"NotAuthorizedForSourceException", "Not authorized for the source."},
		{"InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."},
		{"ResourceNotFoundException", "Event bus other does not exist."},
	}
	if out.FailedEntryCount != 4 || len(got) != len(want) {
		t.Fatalf("FailedEntryCount %d, entries %+v", out.FailedEntryCount, got)
	}
	for i := range want {
		if got[i] != want[i] || (want[i].code == "" && len(aws.ToString(out.Entries[i].EventId)) != 36) {
			t.Errorf("entry %d = %+v (id %q), want %+v", i, got[i], aws.ToString(out.Entries[i].EventId), want[i])
		}
	}
	ev := decodeEvent(t, rec.waitEvents(t, 1)[0])
	if ev.Account != AppAccount || ev.Source != "my.shop" || ev.DetailType != "Order" || ev.ID != aws.ToString(out.Entries[0].EventId) ||
		len(ev.Resources) != 1 || ev.Region != DefaultRegion || ev.Time != "2026-01-02T03:04:05Z" || ev.Detail["total"] != "150" {
		t.Errorf("delivered = %+v", ev)
	}

	_, err = w.events(keyCreds(keyAppOperator)).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, 11)})
	wantCode(t, err, "ValidationException")

	res, err := w.events(keyCreds(keyAppOperator)).TestEventPattern(ctx, &eventbridge.TestEventPatternInput{
		EventPattern: aws.String(`{"detail":{"total":[{"numeric":[">",100]}]}}`), Event: aws.String(string(rec.all()[0]))})
	if err != nil || !res.Result {
		t.Errorf("TestEventPattern: %v %v", res, err)
	}
	_, err = w.events(keyCreds(keyAppOperator)).TestEventPattern(ctx, &eventbridge.TestEventPatternInput{
		EventPattern: aws.String(`{"detail":"x"}`), Event: aws.String(string(rec.all()[0]))})
	wantCode(t, err, "InvalidEventPatternException")
}

func TestEventsCLI(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	if err := w.cloud.OnEvent(Rule{Name: "demo", Target: rec.target, Pattern: json.RawMessage(`{"source":["asgdns.demo"]}`)}); err != nil {
		t.Fatal(err)
	}
	var out struct {
		FailedEntryCount int
		Entries          []struct{ EventId, ErrorCode string }
	}
	w.cliJSON(keyCreds(keyAppOperator), &out, "events", "put-events", "--entries",
		`[{"Source":"asgdns.demo","DetailType":"Demo","Detail":"{\"step\":1}"},{"Source":"aws.autoscaling","DetailType":"x","Detail":"{}"}]`)
	if out.FailedEntryCount != 1 || out.Entries[0].EventId == "" || out.Entries[1].ErrorCode != "NotAuthorizedForSourceException" {
		t.Errorf("put-events = %+v", out)
	}
	if ev := decodeEvent(t, rec.waitEvents(t, 1)[0]); ev.DetailType != "Demo" {
		t.Errorf("delivered = %+v", ev)
	}
	var res struct{ Result bool }
	w.cliJSON(keyCreds(keyAppOperator), &res, "events", "test-event-pattern", "--event-pattern", `{"source":["asgdns.demo"]}`,
		"--event", string(rec.all()[0]))
	if !res.Result {
		t.Error("test-event-pattern: no match")
	}
}

// countingTarget fails its first n deliveries, counting every attempt.
type countingTarget struct {
	attempts atomic.Int32
	failures int32
}

func (c *countingTarget) target(context.Context, json.RawMessage) error {
	if c.attempts.Add(1) <= c.failures {
		return os.ErrDeadlineExceeded
	}
	return nil
}

func (c *countingTarget) waitAttempts(t *testing.T, n int32) {
	t.Helper()
	eventually(t, "delivery attempts", func() (bool, string) {
		got := c.attempts.Load()
		return got >= n, fmt.Sprint(got)
	})
}

// A failed delivery is retried with backoff until its retry policy runs
// out, then the event goes to the rule's dead-letter queue as EventBridge
// sends it there: the event as the body, why in the message attributes.
func TestDeliveryRetriesAndDeadLetters(t *testing.T) {
	w := newWorld(t, withFakeClock())
	dlq, err := w.cloud.CreateQueue(AppAccount, "undelivered", nil)
	if err != nil {
		t.Fatal(err)
	}
	flaky := &countingTarget{failures: 2}
	down := &countingTarget{failures: 1 << 30}
	young := &countingTarget{failures: 1 << 30}
	for _, r := range []Rule{
		{Name: "flaky", Target: flaky.target, RetryPolicy: &RetryPolicy{MaximumRetryAttempts: 2, MaximumEventAge: time.Hour}},
		{Name: "down", Target: down.target, RetryPolicy: &RetryPolicy{MaximumRetryAttempts: 2, MaximumEventAge: time.Hour}},
		{Name: "young", Target: young.target, RetryPolicy: &RetryPolicy{MaximumRetryAttempts: 185, MaximumEventAge: 3 * time.Second}},
	} {
		r.Pattern = json.RawMessage(`{"source":["asgdns.test"]}`)
		r.TargetARN = "arn:aws:states:eu-west-1:111111111111:stateMachine:" + r.Name
		r.DeadLetterQueueARN = dlq.ARN
		if err := w.cloud.OnEvent(r); err != nil {
			t.Fatal(err)
		}
	}
	event := `{"version":"0","id":"e1","detail-type":"T","source":"asgdns.test","account":"111111111111","time":"2026-11-20T08:00:00Z","region":"eu-west-1","resources":[],"detail":{}}`
	if err := w.cloud.Inject(json.RawMessage(event)); err != nil {
		t.Fatal(err)
	}
	// Attempt 1 at once, 2 after 1 s, 3 after 2 s more.
	for _, tg := range []*countingTarget{flaky, down, young} {
		tg.waitAttempts(t, 1)
	}
	w.clock.Advance(time.Second)
	for _, tg := range []*countingTarget{flaky, down, young} {
		tg.waitAttempts(t, 2)
	}
	w.clock.Advance(2 * time.Second)
	for _, tg := range []*countingTarget{flaky, down, young} {
		tg.waitAttempts(t, 3)
	}
	ctx := context.Background()
	client := w.sqs(keyCreds(keyAppOperator))
	eventually(t, "dead letters", func() (bool, string) {
		n := w.queueDepth(dlq.URL)
		return n == 2, fmt.Sprint(n)
	})
	w.clock.Advance(time.Hour)
	time.Sleep(50 * time.Millisecond)
	if got := flaky.attempts.Load(); got != 3 {
		t.Errorf("flaky: %d attempts, want 3 (delivered on the third)", got)
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq.URL), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, m := range out.Messages {
		if aws.ToString(m.Body) != event {
			t.Errorf("dead letter body = %s, want the event unchanged", aws.ToString(m.Body))
		}
		attrs := stringAttributes(m.MessageAttributes)
		got[strings.TrimPrefix(attrs["RULE_ARN"], "arn:aws:events:eu-west-1:111111111111:rule/")] = attrs
	}
	// "down" spent its 2 retries; "young" ran out of event age (3 s) first.
	want := map[string]map[string]string{
		"down": {"RULE_ARN": "arn:aws:events:eu-west-1:111111111111:rule/down", "TARGET_ARN": "arn:aws:states:eu-west-1:111111111111:stateMachine:down",
			"ERROR_CODE": "TIMEOUT", "ERROR_MESSAGE": os.ErrDeadlineExceeded.Error(), "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts", "RETRY_ATTEMPTS": "2"},
		"young": {"RULE_ARN": "arn:aws:events:eu-west-1:111111111111:rule/young", "TARGET_ARN": "arn:aws:states:eu-west-1:111111111111:stateMachine:young",
			"ERROR_CODE": "TIMEOUT", "ERROR_MESSAGE": os.ErrDeadlineExceeded.Error(), "EXHAUSTED_RETRY_CONDITION": "MaximumEventAgeInSeconds", "RETRY_ATTEMPTS": "2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dead letters =\n%v\nwant\n%v", got, want)
	}
	if err := w.cloud.Inject(json.RawMessage(`{"no":"account"}`)); err == nil {
		t.Error("Inject accepted a non-event")
	}
	if err := w.cloud.OnEvent(Rule{Name: "bad", Target: down.target, Pattern: json.RawMessage(`{"source":"x"}`)}); err == nil {
		t.Error("OnEvent accepted an invalid pattern")
	}
	if err := w.cloud.OnEvent(Rule{Name: "no target", Pattern: json.RawMessage(`{"source":["x"]}`)}); err == nil {
		t.Error("OnEvent accepted a rule without a target")
	}
}

// A rule without a dead-letter queue drops what it cannot deliver; one
// whose queue does not exist loses it too (InvocationsFailedToBeSentToDlq).
func TestUndeliverableWithoutADeadLetterQueue(t *testing.T) {
	w := newWorld(t, withFakeClock())
	kept, err := w.cloud.CreateQueue(AppAccount, "kept", nil)
	if err != nil {
		t.Fatal(err)
	}
	down := &countingTarget{failures: 1 << 30}
	for _, r := range []Rule{
		{Name: "no-dlq", Target: down.target},
		{Name: "gone-dlq", Target: down.target, DeadLetterQueueARN: "arn:aws:sqs:eu-west-1:111111111111:gone"},
	} {
		r.Pattern = json.RawMessage(`{"source":["asgdns.test"]}`)
		r.RetryPolicy = &RetryPolicy{MaximumRetryAttempts: 0, MaximumEventAge: time.Hour}
		if err := w.cloud.OnEvent(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.cloud.Inject(json.RawMessage(`{"version":"0","id":"e2","detail-type":"T","source":"asgdns.test","account":"111111111111","time":"2026-11-20T08:00:00Z","region":"eu-west-1","resources":[],"detail":{}}`)); err != nil {
		t.Fatal(err)
	}
	down.waitAttempts(t, 2)
	w.clock.Advance(time.Hour)
	time.Sleep(50 * time.Millisecond)
	if got := down.attempts.Load(); got != 2 {
		t.Errorf("%d attempts, want one per rule (MaximumRetryAttempts 0)", got)
	}
	if n := w.queueDepth(kept.URL); n != 0 {
		t.Errorf("another queue got %d messages", n)
	}
}
