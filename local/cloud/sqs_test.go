package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// queueDepth is the queue's messages, visible or in flight, as the
// operator reads them.
func (w *world) queueDepth(queueURL string) int {
	w.t.Helper()
	out, err := w.sqs(keyCreds(keyAppOperator)).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		w.t.Fatal(err)
	}
	visible, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ := strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible + inFlight
}

// stringAttributes are a message's String attributes by name.
func stringAttributes(attrs map[string]sqstypes.MessageAttributeValue) map[string]string {
	out := map[string]string{}
	for name, a := range attrs {
		if aws.ToString(a.DataType) == "String" {
			out[name] = aws.ToString(a.StringValue)
		}
	}
	return out
}

func (w *world) queue(name string) Queue {
	w.t.Helper()
	q, err := w.cloud.CreateQueue(AppAccount, name, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	return q
}

func TestSQSSendReceiveDelete(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	client := w.sqs(keyCreds(keyAppOperator))
	q := w.queue("drain-me")
	if q.URL != "https://sqs.eu-west-1.amazonaws.com/111111111111/drain-me" || q.ARN != "arn:aws:sqs:eu-west-1:111111111111:drain-me" {
		t.Errorf("queue = %+v", q)
	}

	got, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("drain-me")})
	if err != nil || aws.ToString(got.QueueUrl) != q.URL {
		t.Fatalf("GetQueueUrl = %v, %v", got, err)
	}
	_, err = client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("no-such-queue")})
	var notExist *sqstypes.QueueDoesNotExist
	if msg := wantCode(t, err, "AWS.SimpleQueueService.NonExistentQueue"); !errors.As(err, &notExist) || msg != "The specified queue does not exist." {
		t.Errorf("GetQueueUrl of nothing: %v (typed %v)", err, errors.As(err, &notExist))
	}

	// The SDK checks MD5OfMessageBody (and the endpoint's
	// MD5OfMessageAttributes is compared below).
	sent, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(`{"hello":"ü"}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"kind":  {DataType: aws.String("String"), StringValue: aws.String("test")},
			"count": {DataType: aws.String("Number"), StringValue: aws.String("3")},
			"blob":  {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(sent.MD5OfMessageAttributes) == "" || len(aws.ToString(sent.MessageId)) != 36 {
		t.Errorf("SendMessage = %+v", sent)
	}
	if d := w.queueDepth(q.URL); d != 1 {
		t.Errorf("depth = %d", d)
	}

	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("received %d messages", len(out.Messages))
	}
	m := out.Messages[0]
	if aws.ToString(m.Body) != `{"hello":"ü"}` || aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) ||
		aws.ToString(m.MD5OfMessageAttributes) != aws.ToString(sent.MD5OfMessageAttributes) || len(m.MessageAttributes) != 3 ||
		string(m.MessageAttributes["blob"].BinaryValue) != "\x00\x01\x02" {
		t.Errorf("message = %+v", m)
	}
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" || m.Attributes["SenderId"] == "" {
		t.Errorf("system attributes = %v", m.Attributes)
	}
	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.URL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	if a := attrs.Attributes; a["QueueArn"] != q.ARN || a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesNotVisible"] != "1" ||
		a["VisibilityTimeout"] != "30" {
		t.Errorf("attributes = %v", a)
	}
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if d := w.queueDepth(q.URL); d != 0 {
		t.Errorf("depth after delete = %d", d)
	}
	// Deleting it again is no error, as SQS's DeleteMessage is idempotent.
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Errorf("second delete: %v", err)
	}
	empty, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL)})
	if err != nil || len(empty.Messages) != 0 {
		t.Errorf("empty queue: %v, %v", empty, err)
	}
}

// SQS's documented digest of message attributes, by hand for one
// attribute: length-prefixed name, type, transport byte 1, value.
func TestAttributesMD5(t *testing.T) {
	raw := "\x00\x00\x00\x04kind\x00\x00\x00\x06String\x01\x00\x00\x00\x04test"
	if got, want := attributesMD5(map[string]messageAttribute{"kind": {DataType: "String", StringValue: "test"}}), md5Hex([]byte(raw)); got != want {
		t.Errorf("attributesMD5 = %s, want %s", got, want)
	}
}

// A received message is invisible until its visibility timeout passes on
// the world's clock or it is deleted; each receive hands out a new
// receipt handle, and only the latest deletes the message.
func TestSQSVisibilityTimeout(t *testing.T) {
	w := newWorld(t, withFakeClock())
	ctx := context.Background()
	client := w.sqs(keyCreds(keyAppOperator))
	q := w.queue("visibility")
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String("one")}); err != nil {
		t.Fatal(err)
	}
	receive := func() []sqstypes.Message {
		t.Helper()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), VisibilityTimeout: 60,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Messages
	}
	first := receive()
	if len(first) != 1 {
		t.Fatalf("first receive: %d messages", len(first))
	}
	if again := receive(); len(again) != 0 {
		t.Fatalf("received an in-flight message: %+v", again)
	}
	w.clock.Advance(59 * time.Second)
	if again := receive(); len(again) != 0 {
		t.Fatal("visible before its timeout")
	}
	w.clock.Advance(time.Second)
	second := receive()
	if len(second) != 1 || aws.ToString(second[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) ||
		second[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("second receive = %+v", second)
	}
	old, latest := first[0].ReceiptHandle, second[0].ReceiptHandle

	// The old handle: DeleteMessage succeeds and deletes nothing (SQS:
	// "If you use an old ReceiptHandle, the request will succeed, but the
	// message might not be deleted"); it cannot change the visibility.
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: old}); err != nil {
		t.Fatalf("delete with the old handle: %v", err)
	}
	if d := w.queueDepth(q.URL); d != 1 {
		t.Errorf("the old handle deleted the message (depth %d)", d)
	}
	_, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.URL), ReceiptHandle: old, VisibilityTimeout: 0})
	if msg := wantCode(t, err, "InvalidParameterValue"); !strings.HasSuffix(msg, "Reason: The receipt handle has expired.") {
		t.Errorf("message = %q", msg)
	}
	_, err = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String("not-a-handle")})
	var invalid *sqstypes.ReceiptHandleIsInvalid
	if msg := wantCode(t, err, "ReceiptHandleIsInvalid"); !errors.As(err, &invalid) || msg != `The input receipt handle "not-a-handle" is not a valid receipt handle.` {
		t.Errorf("malformed handle: %v", err)
	}
	// Another queue's handle is not this queue's.
	other := w.queue("other")
	_, err = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(other.URL), ReceiptHandle: latest})
	wantCode(t, err, "ReceiptHandleIsInvalid")

	// ChangeMessageVisibility with the latest handle: 0 makes it visible now.
	if _, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.URL), ReceiptHandle: latest, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	third := receive()
	if len(third) != 1 || third[0].Attributes["ApproximateReceiveCount"] != "3" {
		t.Fatalf("after ChangeMessageVisibility 0: %+v", third)
	}
	if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: third[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	if d := w.queueDepth(q.URL); d != 0 {
		t.Errorf("depth after deleting with the latest handle = %d", d)
	}
}

// A long poll answers when a message arrives, or empty when
// WaitTimeSeconds pass on the world's clock.
func TestSQSLongPolling(t *testing.T) {
	w := newWorld(t, withFakeClock())
	ctx := context.Background()
	client := w.sqs(keyCreds(keyAppOperator))
	q := w.queue("long-poll")
	type result struct {
		n   int
		err error
	}
	poll := func() chan result {
		done := make(chan result, 1)
		go func() {
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), WaitTimeSeconds: 20})
			if err != nil {
				done <- result{err: err}
				return
			}
			done <- result{n: len(out.Messages)}
		}()
		return done
	}

	done := poll()
	time.Sleep(50 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("the poll answered before anything arrived: %+v", r)
	default:
	}
	if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.n != 1 {
			t.Fatalf("poll = %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the poll did not answer when a message arrived")
	}

	// Nothing visible: the poll ends empty once 20 s pass on the world's clock.
	done = poll()
	for {
		select {
		case r := <-done:
			if r.err != nil || r.n != 0 {
				t.Fatalf("empty poll = %+v", r)
			}
			if elapsed := w.clock.Now().Sub(testStart); elapsed < 20*time.Second {
				t.Errorf("the poll ended after %s of world time, want 20 s", elapsed)
			}
			return
		case <-time.After(20 * time.Millisecond):
			w.clock.Advance(time.Second)
		}
	}
}

func TestSQSValidation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	client := w.sqs(keyCreds(keyAppOperator))
	q := w.queue("strict")
	for _, tc := range []struct {
		name    string
		in      sqs.ReceiveMessageInput
		message string
	}{
		{"11 messages", sqs.ReceiveMessageInput{MaxNumberOfMessages: 11},
			"Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."},
		{"wait 21 s", sqs.ReceiveMessageInput{WaitTimeSeconds: 21},
			"Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."},
		{"visibility 12 h 1 s", sqs.ReceiveMessageInput{VisibilityTimeout: 43201},
			"Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.QueueUrl = aws.String(q.URL)
			_, err := client.ReceiveMessage(ctx, &in)
			if msg := wantCode(t, err, "InvalidParameterValue"); msg != tc.message {
				t.Errorf("message = %q, want %q", msg, tc.message)
			}
		})
	}
	_, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String("bad \x01 byte")})
	wantCode(t, err, "InvalidMessageContents")
	_, err = client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String("x"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{"n": {DataType: aws.String("Number"), StringValue: aws.String("three")}}})
	wantCode(t, err, "InvalidParameterValue")
	_, err = client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.URL), AttributeNames: []sqstypes.QueueAttributeName{"Color"}})
	wantCode(t, err, "InvalidAttributeName")
	_, err = client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String("https://sqs.eu-west-1.amazonaws.com/111111111111/nope")})
	wantCode(t, err, "AWS.SimpleQueueService.NonExistentQueue")
	_, err = client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String("https://sqs.eu-west-1.amazonaws.com/")})
	wantCode(t, err, "InvalidAddress")
	// The queue URL's host does not matter: the local endpoint's is as good.
	if _, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(w.url + "/111111111111/strict")}); err != nil {
		t.Errorf("queue URL on the local endpoint: %v", err)
	}
}

// DeleteMessageBatch deletes what it can and reports each entry it could
// not; a batch that is empty, too long or repeats an id is refused whole.
func TestSQSDeleteMessageBatch(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	client := w.sqs(keyCreds(keyAppOperator))
	q := w.queue("batch")
	for i := range 3 {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 10})
	if err != nil || len(out.Messages) != 3 {
		t.Fatalf("receive: %v %v", out, err)
	}
	res, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: []sqstypes.DeleteMessageBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: out.Messages[0].ReceiptHandle},
		{Id: aws.String("bad"), ReceiptHandle: aws.String("garbage")},
		{Id: aws.String("c"), ReceiptHandle: out.Messages[2].ReceiptHandle},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var ok []string
	for _, s := range res.Successful {
		ok = append(ok, aws.ToString(s.Id))
	}
	if !reflect.DeepEqual(ok, []string{"a", "c"}) || len(res.Failed) != 1 {
		t.Fatalf("batch = successful %v, failed %+v", ok, res.Failed)
	}
	if f := res.Failed[0]; aws.ToString(f.Id) != "bad" || aws.ToString(f.Code) != "ReceiptHandleIsInvalid" || !f.SenderFault ||
		aws.ToString(f.Message) != `The input receipt handle "garbage" is not a valid receipt handle.` {
		t.Errorf("failed entry = %+v", f)
	}
	if d := w.queueDepth(q.URL); d != 1 {
		t.Errorf("depth = %d, want the one message not deleted", d)
	}
	entry := func(id string) sqstypes.DeleteMessageBatchRequestEntry {
		return sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(id), ReceiptHandle: out.Messages[1].ReceiptHandle}
	}
	eleven := make([]sqstypes.DeleteMessageBatchRequestEntry, 11)
	for i := range eleven {
		eleven[i] = entry(fmt.Sprint("e", i))
	}
	for _, tc := range []struct {
		name    string
		entries []sqstypes.DeleteMessageBatchRequestEntry
		code    string
	}{
		{"empty", []sqstypes.DeleteMessageBatchRequestEntry{}, "AWS.SimpleQueueService.EmptyBatchRequest"},
		{"eleven", eleven, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
		{"repeated id", []sqstypes.DeleteMessageBatchRequestEntry{entry("x"), entry("x")}, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"},
		{"bad id", []sqstypes.DeleteMessageBatchRequestEntry{entry("no spaces")}, "AWS.SimpleQueueService.InvalidBatchEntryId"},
	} {
		_, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: tc.entries})
		if code, _ := apiCode(err); code != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if d := w.queueDepth(q.URL); d != 1 {
		t.Errorf("a refused batch deleted something (depth %d)", d)
	}
}

// The caller's identity policy decides, as for the other services: a
// role allowed to receive and delete on the queue drains it; a role
// without sqs permissions, or another account, is refused.
func TestSQSAccess(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	q := w.queue("guarded")
	if err := w.cloud.SetRolePolicy(sendCommandRole, json.RawMessage(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage","sqs:GetQueueUrl"],"Resource":%q}]}`, q.ARN))); err != nil {
		t.Fatal(err)
	}
	if err := w.cloud.SetRolePolicy(untrustedRole, json.RawMessage(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"}]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.sqs(keyCreds(keyAppOperator)).SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String("m")}); err != nil {
		t.Fatal(err)
	}

	drainer := w.sqs(keyCreds(keySendCommand))
	url, err := drainer.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("guarded")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := drainer.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url.QueueUrl})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive as the drainer: %v %v", out, err)
	}
	if _, err := drainer.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: url.QueueUrl, ReceiptHandle: out.Messages[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	_, err = drainer.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url.QueueUrl, MessageBody: aws.String("m")})
	want := "User: arn:aws:sts::111111111111:assumed-role/asgdns-SendCommandFunctionRole-4D5E6F/asgdns-SendCommandFunction is not authorized to perform: sqs:sendmessage on resource: " +
		q.ARN + " because no identity-based policy allows the sqs:sendmessage action"
	if msg := wantCode(t, err, "AccessDenied"); msg != want {
		t.Errorf("message = %q\nwant      %q", msg, want)
	}
	var httpErr interface{ HTTPStatusCode() int }
	if !errors.As(err, &httpErr) || httpErr.HTTPStatusCode() != 403 {
		t.Errorf("AccessDenied status: %v", err)
	}

	_, err = w.sqs(keyCreds(keyUntrusted)).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL)})
	wantCode(t, err, "AccessDenied")
	_, err = w.sqs(keyCreds(keySharedAdmin)).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL)})
	if msg := wantCode(t, err, "AccessDenied"); !strings.Contains(msg, "no resource-based policy allows") {
		t.Errorf("cross-account message = %q", msg)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorFault() != smithy.FaultClient {
		t.Errorf("fault = %v, want client (Sender)", apiErr.ErrorFault())
	}
}

// The application template's queue, as a deployment creates it, is the
// rule's dead-letter queue; DeadLetter puts an event there as EventBridge
// would for an error it does not retry.
func TestAppQueueAndDeadLetter(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	queues, err := w.cloud.CreateAppQueues(appTemplate, appDeployment, appParams)
	if err != nil {
		t.Fatal(err)
	}
	dlq, ok := queues["UndeliveredEvents"]
	if !ok || len(queues) != 1 || !strings.HasPrefix(dlq.Name, "asgdns-UndeliveredEvents-") || len(dlq.Name) != len("asgdns-UndeliveredEvents-")+12 {
		t.Fatalf("queues = %+v", queues)
	}
	attrs, err := w.sqs(keyCreds(keyAppOperator)).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq.URL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	if a := attrs.Attributes; a["MessageRetentionPeriod"] != "1209600" || a["SqsManagedSseEnabled"] != "true" || a["QueueArn"] != dlq.ARN {
		t.Errorf("attributes = %v", a)
	}
	if _, err := w.cloud.CreateAppQueues(appTemplate, appDeployment, appParams); err == nil {
		t.Error("a second deployment of the same stack created its queue again")
	}

	rule, err := LoadRule(appTemplate, appDeployment, []string{"web-prod"})
	if err != nil {
		t.Fatal(err)
	}
	if rule.DeadLetterQueueARN != dlq.ARN {
		t.Errorf("rule dead-letters into %s, want %s", rule.DeadLetterQueueARN, dlq.ARN)
	}
	rule.Target = (&recorder{}).target
	rule.TargetARN = "arn:aws:states:eu-west-1:111111111111:stateMachine:asgdns-DnsRegistration:live"
	if err := w.cloud.OnEvent(rule); err != nil {
		t.Fatal(err)
	}
	event := `{"version":"0","id":"e3","detail-type":"EC2 Instance-launch Lifecycle Action","source":"aws.autoscaling","account":"111111111111","time":"2026-11-20T08:00:00Z","region":"eu-west-1","resources":[],"detail":{}}`
	if err := w.cloud.DeadLetter(AppAccount, json.RawMessage(event), "NO_PERMISSIONS", "not authorized to perform states:StartExecution"); err != nil {
		t.Fatal(err)
	}
	if err := w.cloud.DeadLetter(OtherAppAccount, json.RawMessage(event), "NO_PERMISSIONS", "x"); err == nil {
		t.Error("DeadLetter in an account without a rule")
	}
	if err := w.cloud.DeadLetter(AppAccount, json.RawMessage(`not json`), "NO_PERMISSIONS", "x"); err == nil {
		t.Error("DeadLetter of a non-event")
	}

	// The operator drains it with the AWS CLI, as an operator would.
	var out struct {
		Messages []struct {
			Body              string
			ReceiptHandle     string
			Attributes        map[string]string
			MessageAttributes map[string]struct{ DataType, StringValue string }
		}
	}
	w.cliJSON(keyCreds(keyAppOperator), &out, "sqs", "receive-message", "--queue-url", dlq.URL,
		"--message-attribute-names", "All", "--attribute-names", "All", "--max-number-of-messages", "10")
	if len(out.Messages) != 1 || out.Messages[0].Body != event {
		t.Fatalf("receive-message = %+v", out)
	}
	got := map[string]string{}
	for name, a := range out.Messages[0].MessageAttributes {
		got[name] = a.DataType + ":" + a.StringValue
	}
	want := map[string]string{
		"RULE_ARN":       "String:arn:aws:events:eu-west-1:111111111111:rule/DnsRegistrationLifecycleAction",
		"TARGET_ARN":     "String:" + rule.TargetARN,
		"ERROR_CODE":     "String:NO_PERMISSIONS",
		"ERROR_MESSAGE":  "String:not authorized to perform states:StartExecution",
		"RETRY_ATTEMPTS": "String:0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes =\n%v\nwant\n%v", got, want)
	}
	w.cliJSON(keyCreds(keyAppOperator), nil, "sqs", "delete-message", "--queue-url", dlq.URL, "--receipt-handle", out.Messages[0].ReceiptHandle)
	if d := w.queueDepth(dlq.URL); d != 0 {
		t.Errorf("depth after delete-message = %d", d)
	}
	_, msg := w.cliError(keyCreds(keyAppOperator), "AWS.SimpleQueueService.NonExistentQueue", "sqs", "get-queue-url", "--queue-name", "nothing")
	if msg != "The specified queue does not exist." {
		t.Errorf("get-queue-url message = %q", msg)
	}
	if err := w.cloud.SetRolePolicy(untrustedRole, json.RawMessage(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"}]}`)); err != nil {
		t.Fatal(err)
	}
	w.cliError(keyCreds(keyUntrusted), "AccessDenied", "sqs", "receive-message", "--queue-url", dlq.URL)
}
