package cloud

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asgdns/asgdns/local/wire"
)

// SQS: the standard queues the application stacks declare (CreateQueue,
// CreateAppQueues), served in the AWS JSON 1.0 protocol the SDKs and the
// AWS CLI speak to SQS (X-Amz-Target AmazonSQS.<Operation>), with SQS's
// awsQueryCompatible errors: __type names the Smithy shape
// (com.amazonaws.sqs#QueueDoesNotExist), X-Amzn-Query-Error the query
// protocol's code (AWS.SimpleQueueService.NonExistentQueue), which is what
// the SDKs report (aws-sdk-go-v2/service/sqs schemas: the AWSQueryError
// traits; smithy-go transport/http/protocol/awsjson). Visibility timeouts,
// delays and retention run on the world's clock; a long poll waits on it
// too. Queues are not created, deleted or configured over the wire: the
// stacks' templates decide what exists.

const sqsTarget = "AmazonSQS"

// SQS's limits (the API reference's ranges).
const (
	sqsMaxVisibility = 12 * time.Hour
	sqsMaxWait       = 20 * time.Second
	sqsMaxDelay      = 15 * time.Minute
	sqsMaxBatch      = 10
	sqsDefaultVis    = 30 * time.Second
	sqsDefaultKeep   = 4 * 24 * time.Hour
	sqsMinKeep       = time.Minute
	sqsMaxKeep       = 14 * 24 * time.Hour
	sqsMaxAttributes = 10
)

// Queue is an SQS standard queue of the local world, named as SQS names
// it: its URL is what CloudFormation's Ref and GetQueueUrl return.
type Queue struct {
	Account, Name string
	URL, ARN      string
}

type queue struct {
	Queue
	visibility time.Duration // VisibilityTimeout
	retention  time.Duration // MessageRetentionPeriod
	delay      time.Duration // DelaySeconds
	wait       time.Duration // ReceiveMessageWaitTimeSeconds
	sse        bool          // SqsManagedSseEnabled
	created    time.Time
	messages   []*message // in the order they were sent
	// changed is closed (and replaced) when a message may have become
	// receivable: long polls wait on it.
	changed chan struct{}
}

type message struct {
	id, body     string
	attributes   map[string]messageAttribute
	sender       string
	sent         time.Time
	visibleAt    time.Time
	receives     int
	firstReceive time.Time
	handle       string // the receipt handle of the latest receive
}

// messageAttribute is a message attribute as the JSON protocol writes it
// (BinaryValue base64, as encoding/json writes a []byte).
type messageAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// queueIdentity is how SQS names a queue of this region.
func (c *Cloud) queueIdentity(account, name string) Queue {
	return Queue{Account: account, Name: name,
		URL: "https://sqs." + c.region + ".amazonaws.com/" + account + "/" + name,
		ARN: "arn:aws:sqs:" + c.region + ":" + account + ":" + name}
}

// CreateQueue creates a standard queue in an account, with the attributes
// CreateQueue (or an AWS::SQS::Queue's properties) may set that the local
// queue models: VisibilityTimeout, MessageRetentionPeriod, DelaySeconds,
// ReceiveMessageWaitTimeSeconds (seconds) and SqsManagedSseEnabled. Any
// other attribute is an error rather than silently ignored.
func (c *Cloud) CreateQueue(account, name string, attributes map[string]string) (Queue, error) {
	if !accountRE.MatchString(account) {
		return Queue{}, fmt.Errorf("cloud: CreateQueue: %q is not an account id", account)
	}
	if !queueNameRE.MatchString(name) {
		return Queue{}, fmt.Errorf("cloud: CreateQueue: %q: a queue name is 1 to 80 letters, digits, hyphens and underscores", name)
	}
	q := &queue{Queue: c.queueIdentity(account, name), visibility: sqsDefaultVis, retention: sqsDefaultKeep,
		created: c.clock.Now(), changed: make(chan struct{})}
	seconds := func(key, v string, lo, hi time.Duration) (time.Duration, error) {
		n, err := strconv.Atoi(v)
		d := time.Duration(n) * time.Second
		if err != nil || d < lo || d > hi {
			return 0, fmt.Errorf("cloud: CreateQueue %s: %s %q is not a number of seconds from %d to %d", name, key, v, int(lo.Seconds()), int(hi.Seconds()))
		}
		return d, nil
	}
	for key, v := range attributes {
		var err error
		switch key {
		case "VisibilityTimeout":
			q.visibility, err = seconds(key, v, 0, sqsMaxVisibility)
		case "MessageRetentionPeriod":
			q.retention, err = seconds(key, v, sqsMinKeep, sqsMaxKeep)
		case "DelaySeconds":
			q.delay, err = seconds(key, v, 0, sqsMaxDelay)
		case "ReceiveMessageWaitTimeSeconds":
			q.wait, err = seconds(key, v, 0, sqsMaxWait)
		case "SqsManagedSseEnabled":
			q.sse, err = strconv.ParseBool(v)
		default:
			err = fmt.Errorf("cloud: CreateQueue %s: attribute %s is not modelled by the local queue", name, key)
		}
		if err != nil {
			return Queue{}, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.queues[q.ARN] != nil {
		return Queue{}, fmt.Errorf("cloud: CreateQueue: %s exists", q.ARN)
	}
	c.queues[q.ARN] = q
	c.network(account)
	return q.Queue, nil
}

// notifyLocked wakes the long polls of a queue (caller holds c.mu).
func (q *queue) notifyLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// expireLocked drops the messages older than the retention period
// (caller holds c.mu).
func (q *queue) expireLocked(now time.Time) {
	kept := q.messages[:0]
	for _, m := range q.messages {
		if now.Sub(m.sent) < q.retention {
			kept = append(kept, m)
		}
	}
	clear(q.messages[len(kept):])
	q.messages = kept
}

// sendLocked enqueues a message (caller holds c.mu).
func (c *Cloud) sendLocked(q *queue, body string, attributes map[string]messageAttribute, delay time.Duration, sender string) *message {
	now := c.clock.Now()
	q.expireLocked(now)
	m := &message{id: newUUID(), body: body, attributes: attributes, sender: sender, sent: now, visibleAt: now.Add(delay)}
	q.messages = append(q.messages, m)
	if delay > 0 {
		c.after(delay, q.notifyLocked)
	} else {
		q.notifyLocked()
	}
	return m
}

// --- errors -------------------------------------------------------------------

// sqsError is an error of the JSON protocol's awsQueryCompatible form.
func sqsError(status int, shape, queryCode, format string, args ...any) *wire.Error {
	e := wire.NewError(status, "com.amazonaws.sqs#"+shape, format, args...)
	e.QueryCode = queryCode
	return e
}

func errQueueDoesNotExist() *wire.Error {
	return sqsError(http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
}

func errReceiptHandleIsInvalid(handle string) *wire.Error {
	return sqsError(http.StatusBadRequest, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
		"The input receipt handle %q is not a valid receipt handle.", handle)
}

// sqsInvalidParameter is SQS's refusal of a parameter's value: the
// front end's ValidationException, InvalidParameterValue in the query
// code the SDKs report.
func sqsInvalidParameter(format string, args ...any) *wire.Error {
	e := wire.NewError(http.StatusBadRequest, "com.amazon.coral.validate#ValidationException", format, args...)
	e.QueryCode = "InvalidParameterValue"
	return e
}

func sqsMissingParameter(name string) *wire.Error {
	e := wire.NewError(http.StatusBadRequest, "com.amazon.coral.validate#ValidationException", "The request must contain the parameter %s.", name)
	e.QueryCode = "MissingParameter"
	return e
}

func sqsAccessDenied(message string) *wire.Error {
	e := wire.NewError(http.StatusForbidden, "com.amazon.coral.service#AccessDeniedException", "%s", message)
	e.QueryCode = "AccessDenied"
	return e
}

// --- finding and authorizing a queue ------------------------------------------

// queueOf resolves a QueueUrl (any host: SQS's own, a legacy
// queue.amazonaws.com one, or the local endpoint's) and authorizes
// action on it. The caller's identity policy must allow the action on
// the queue's ARN; a queue of another account also needs its queue
// policy to, and the stacks' queue policies grant only EventBridge.
func (c *Cloud) queueOf(p Principal, queueURL, action string) (*queue, *wire.Error) {
	if queueURL == "" {
		return nil, sqsMissingParameter("QueueUrl")
	}
	var parts []string
	if u, err := url.Parse(queueURL); err == nil {
		parts = strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	}
	if len(parts) != 2 || !accountRE.MatchString(parts[0]) || !queueNameRE.MatchString(parts[1]) {
		return nil, sqsError(http.StatusBadRequest, "InvalidAddress", "InvalidAddress", "The address %s is not valid for this endpoint.", queueURL)
	}
	return c.authorizeQueue(p, parts[0], parts[1], action)
}

func (c *Cloud) authorizeQueue(p Principal, account, name, action string) (*queue, *wire.Error) {
	id := c.queueIdentity(account, name)
	// SQS writes the action in lower case in its refusals.
	lower := "sqs:" + strings.ToLower(strings.TrimPrefix(action, "sqs:"))
	if !c.allows(p, action, id.ARN, nil) {
		return nil, sqsAccessDenied(notAuthorized(p, lower, id.ARN))
	}
	if account != p.Account {
		return nil, sqsAccessDenied(fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
			p.ARN, lower, id.ARN, lower))
	}
	c.mu.Lock()
	q := c.queues[id.ARN]
	c.mu.Unlock()
	if q == nil {
		return nil, errQueueDoesNotExist()
	}
	return q, nil
}

// --- the API ----------------------------------------------------------------

func (c *Cloud) getQueueURL(cl *call) (any, *wire.Error) {
	var in struct {
		QueueName              string `json:"QueueName"`
		QueueOwnerAWSAccountID string `json:"QueueOwnerAWSAccountId"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	if in.QueueName == "" {
		return nil, sqsMissingParameter("QueueName")
	}
	account := cl.caller.Account
	if in.QueueOwnerAWSAccountID != "" {
		account = in.QueueOwnerAWSAccountID
	}
	if !queueNameRE.MatchString(in.QueueName) || !accountRE.MatchString(account) {
		return nil, errQueueDoesNotExist()
	}
	q, apiErr := c.authorizeQueue(cl.caller, account, in.QueueName, "sqs:GetQueueUrl")
	if apiErr != nil {
		return nil, apiErr
	}
	return map[string]string{"QueueUrl": q.URL}, nil
}

// queueAttributeNames are the attributes GetQueueAttributes knows;
// those a standard queue without a policy or redrive does not have are
// left out of the answer, as SQS leaves them out.
var queueAttributeNames = map[string]bool{
	"All": true, "Policy": true, "VisibilityTimeout": true, "MaximumMessageSize": true, "MessageRetentionPeriod": true,
	"ApproximateNumberOfMessages": true, "ApproximateNumberOfMessagesNotVisible": true, "CreatedTimestamp": true,
	"LastModifiedTimestamp": true, "QueueArn": true, "ApproximateNumberOfMessagesDelayed": true, "DelaySeconds": true,
	"ReceiveMessageWaitTimeSeconds": true, "RedrivePolicy": true, "FifoQueue": true, "ContentBasedDeduplication": true,
	"KmsMasterKeyId": true, "KmsDataKeyReusePeriodSeconds": true, "DeduplicationScope": true, "FifoThroughputLimit": true,
	"RedriveAllowPolicy": true, "SqsManagedSseEnabled": true,
}

func (c *Cloud) getQueueAttributes(cl *call) (any, *wire.Error) {
	var in struct {
		QueueURL       string   `json:"QueueUrl"`
		AttributeNames []string `json:"AttributeNames"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	q, apiErr := c.queueOf(cl.caller, in.QueueURL, "sqs:GetQueueAttributes")
	if apiErr != nil {
		return nil, apiErr
	}
	for _, name := range in.AttributeNames {
		if !queueAttributeNames[name] {
			return nil, sqsError(http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute %s.", name)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	q.expireLocked(now)
	var visible, inFlight, delayed int
	for _, m := range q.messages {
		switch {
		case !now.Before(m.visibleAt):
			visible++
		case m.receives > 0:
			inFlight++
		default:
			delayed++
		}
	}
	secs := func(d time.Duration) string { return strconv.Itoa(int(d.Seconds())) }
	all := map[string]string{
		"QueueArn":                              q.ARN,
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.created.Unix(), 10),
		"VisibilityTimeout":                     secs(q.visibility),
		"MessageRetentionPeriod":                secs(q.retention),
		"DelaySeconds":                          secs(q.delay),
		"ReceiveMessageWaitTimeSeconds":         secs(q.wait),
		"SqsManagedSseEnabled":                  strconv.FormatBool(q.sse),
	}
	out := map[string]string{}
	for _, name := range in.AttributeNames {
		if name == "All" {
			out = all
			break
		}
		if v, ok := all[name]; ok {
			out[name] = v
		}
	}
	if len(out) == 0 {
		return struct{}{}, nil
	}
	return map[string]any{"Attributes": out}, nil
}

type sendMessageInput struct {
	QueueURL          string                      `json:"QueueUrl"`
	MessageBody       *string                     `json:"MessageBody"`
	DelaySeconds      *int                        `json:"DelaySeconds"`
	MessageAttributes map[string]messageAttribute `json:"MessageAttributes"`
}

func (c *Cloud) sendMessage(cl *call) (any, *wire.Error) {
	var in sendMessageInput
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	q, apiErr := c.queueOf(cl.caller, in.QueueURL, "sqs:SendMessage")
	if apiErr != nil {
		return nil, apiErr
	}
	if in.MessageBody == nil || *in.MessageBody == "" {
		return nil, sqsMissingParameter("MessageBody")
	}
	if !validMessageText(*in.MessageBody) {
		return nil, sqsError(http.StatusBadRequest, "InvalidMessageContents", "InvalidMessageContents",
			"Invalid binary character in the message body: the body may hold only #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.")
	}
	if apiErr := validateMessageAttributes(in.MessageAttributes); apiErr != nil {
		return nil, apiErr
	}
	c.mu.Lock()
	delay := q.delay
	c.mu.Unlock()
	if in.DelaySeconds != nil {
		if *in.DelaySeconds < 0 || time.Duration(*in.DelaySeconds)*time.Second > sqsMaxDelay {
			return nil, sqsInvalidParameter("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *in.DelaySeconds)
		}
		delay = time.Duration(*in.DelaySeconds) * time.Second
	}
	c.mu.Lock()
	m := c.sendLocked(q, *in.MessageBody, in.MessageAttributes, delay, cl.caller.UserID)
	c.mu.Unlock()
	out := map[string]string{"MessageId": m.id, "MD5OfMessageBody": md5Hex([]byte(m.body))}
	if len(m.attributes) > 0 {
		out["MD5OfMessageAttributes"] = attributesMD5(m.attributes)
	}
	return out, nil
}

// validMessageText: SQS accepts #x9 | #xA | #xD | #x20 to #xD7FF |
// #xE000 to #xFFFD | #x10000 to #x10FFFF in bodies and attribute values.
func validMessageText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		ok := r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok {
			return false
		}
	}
	return true
}

var attributeNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)

func validateMessageAttributes(attrs map[string]messageAttribute) *wire.Error {
	if len(attrs) > sqsMaxAttributes {
		return sqsInvalidParameter("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(attrs), sqsMaxAttributes)
	}
	for name, a := range attrs {
		lower := strings.ToLower(name)
		if !attributeNameRE.MatchString(name) || strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return sqsInvalidParameter("Message (user) attribute name '%s' is invalid.", name)
		}
		base, _, _ := strings.Cut(a.DataType, ".")
		switch base {
		case "String", "Number":
			if a.StringValue == "" || !validMessageText(a.StringValue) {
				return sqsInvalidParameter("Message (user) attribute '%s' must contain a non-empty value of type '%s'.", name, base)
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
					return sqsInvalidParameter("Could not cast message attribute '%s' value to number.", name)
				}
			}
		case "Binary":
			if len(a.BinaryValue) == 0 {
				return sqsInvalidParameter("Message (user) attribute '%s' must contain a non-empty value of type 'Binary'.", name)
			}
		default:
			return sqsInvalidParameter("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
	}
	return nil
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// attributesMD5 is MD5OfMessageAttributes as SQS computes it (and the
// SDKs check it): over the attributes sorted by name, each as its
// length-prefixed name and data type, a transport byte (1 string or
// number, 2 binary) and its length-prefixed value.
func attributesMD5(attrs map[string]messageAttribute) string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	field := func(v []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(v)))
		b.Write(v)
	}
	for _, n := range names {
		a := attrs[n]
		field([]byte(n))
		field([]byte(a.DataType))
		if strings.HasPrefix(a.DataType, "Binary") {
			b.WriteByte(2)
			field(a.BinaryValue)
		} else {
			b.WriteByte(1)
			field([]byte(a.StringValue))
		}
	}
	return md5Hex(b.Bytes())
}

// The system attributes ReceiveMessage may name (MessageSystemAttributeNames,
// or the older AttributeNames); the FIFO and tracing ones a standard
// queue's messages here do not have.
var messageSystemAttributeNames = map[string]bool{
	"All": true, "SenderId": true, "SentTimestamp": true, "ApproximateReceiveCount": true,
	"ApproximateFirstReceiveTimestamp": true, "SequenceNumber": true, "MessageDeduplicationId": true,
	"MessageGroupId": true, "AWSTraceHeader": true, "DeadLetterQueueSourceArn": true,
}

type receivedMessage struct {
	MessageID              string                      `json:"MessageId"`
	ReceiptHandle          string                      `json:"ReceiptHandle"`
	MD5OfBody              string                      `json:"MD5OfBody"`
	Body                   string                      `json:"Body"`
	Attributes             map[string]string           `json:"Attributes,omitempty"`
	MD5OfMessageAttributes string                      `json:"MD5OfMessageAttributes,omitempty"`
	MessageAttributes      map[string]messageAttribute `json:"MessageAttributes,omitempty"`
}

func (c *Cloud) receiveMessage(cl *call) (any, *wire.Error) {
	var in struct {
		QueueURL                    string   `json:"QueueUrl"`
		AttributeNames              []string `json:"AttributeNames"`
		MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
		MessageAttributeNames       []string `json:"MessageAttributeNames"`
		MaxNumberOfMessages         *int     `json:"MaxNumberOfMessages"`
		VisibilityTimeout           *int     `json:"VisibilityTimeout"`
		WaitTimeSeconds             *int     `json:"WaitTimeSeconds"`
		ReceiveRequestAttemptID     string   `json:"ReceiveRequestAttemptId"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	q, apiErr := c.queueOf(cl.caller, in.QueueURL, "sqs:ReceiveMessage")
	if apiErr != nil {
		return nil, apiErr
	}
	limit := 1
	if in.MaxNumberOfMessages != nil {
		if limit = *in.MaxNumberOfMessages; limit < 1 || limit > sqsMaxBatch {
			return nil, sqsInvalidParameter("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", limit)
		}
	}
	c.mu.Lock()
	visibility, wait := q.visibility, q.wait
	c.mu.Unlock()
	if in.VisibilityTimeout != nil {
		v := time.Duration(*in.VisibilityTimeout) * time.Second
		if v < 0 || v > sqsMaxVisibility {
			return nil, sqsInvalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", *in.VisibilityTimeout)
		}
		visibility = v
	}
	if in.WaitTimeSeconds != nil {
		w := time.Duration(*in.WaitTimeSeconds) * time.Second
		if w < 0 || w > sqsMaxWait {
			return nil, sqsInvalidParameter("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
		}
		wait = w
	}
	system := append(append([]string(nil), in.AttributeNames...), in.MessageSystemAttributeNames...)
	for _, name := range system {
		if !messageSystemAttributeNames[name] {
			return nil, sqsError(http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute %s.", name)
		}
	}

	// A long poll answers as soon as a message is receivable, or empty
	// once WaitTimeSeconds pass on the world's clock.
	expired := make(chan struct{})
	if wait > 0 {
		t := c.clock.AfterFunc(wait, func() { close(expired) })
		defer t.Stop()
	}
	for last := wait == 0; ; {
		c.mu.Lock()
		msgs := c.receiveLocked(q, limit, visibility, system, in.MessageAttributeNames)
		changed := q.changed
		c.mu.Unlock()
		if len(msgs) > 0 || last {
			if len(msgs) == 0 {
				return struct{}{}, nil
			}
			return map[string]any{"Messages": msgs}, nil
		}
		select {
		case <-changed:
		case <-expired:
			last = true
		case <-cl.ctx.Done():
			return struct{}{}, nil
		case <-c.base.Done():
			return struct{}{}, nil
		}
	}
}

// receiveLocked takes up to max receivable messages, hiding each for
// visibility under a new receipt handle (caller holds c.mu).
func (c *Cloud) receiveLocked(q *queue, limit int, visibility time.Duration, system, attributeNames []string) []receivedMessage {
	now := c.clock.Now()
	q.expireLocked(now)
	var out []receivedMessage
	for _, m := range q.messages {
		if len(out) == limit {
			break
		}
		if now.Before(m.visibleAt) {
			continue
		}
		m.receives++
		if m.receives == 1 {
			m.firstReceive = now
		}
		m.handle = base64.StdEncoding.EncodeToString([]byte(strings.Join([]string{q.ARN, m.id, strconv.Itoa(m.receives), randomHex(32)}, " ")))
		m.visibleAt = now.Add(visibility)
		if visibility > 0 {
			c.after(visibility, q.notifyLocked)
		}
		rm := receivedMessage{MessageID: m.id, ReceiptHandle: m.handle, MD5OfBody: md5Hex([]byte(m.body)), Body: m.body}
		all := map[string]string{
			"SenderId":                         m.sender,
			"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
			"ApproximateReceiveCount":          strconv.Itoa(m.receives),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
		}
		for _, name := range system {
			if name == "All" {
				rm.Attributes = all
				break
			}
			if v, ok := all[name]; ok {
				if rm.Attributes == nil {
					rm.Attributes = map[string]string{}
				}
				rm.Attributes[name] = v
			}
		}
		for name, a := range m.attributes {
			if attributeRequested(name, attributeNames) {
				if rm.MessageAttributes == nil {
					rm.MessageAttributes = map[string]messageAttribute{}
				}
				rm.MessageAttributes[name] = a
			}
		}
		if len(rm.MessageAttributes) > 0 {
			rm.MD5OfMessageAttributes = attributesMD5(rm.MessageAttributes)
		}
		out = append(out, rm)
	}
	return out
}

// attributeRequested: MessageAttributeNames lists names, "All" or ".*",
// or prefixes ending in ".*".
func attributeRequested(name string, requested []string) bool {
	for _, r := range requested {
		if r == "All" || r == ".*" || r == name {
			return true
		}
		if prefix, ok := strings.CutSuffix(r, ".*"); ok && strings.HasPrefix(name, prefix+".") {
			return true
		}
	}
	return false
}

// handleOf finds the message a receipt handle names. stale is true when
// the message has been received again since (its latest handle is
// another) or no longer exists; an error when the handle is not one of
// this queue's (caller holds c.mu).
func (q *queue) handleOf(handle string) (m *message, stale bool, apiErr *wire.Error) {
	raw, err := base64.StdEncoding.DecodeString(handle)
	fields := strings.Split(string(raw), " ")
	if err != nil || len(fields) != 4 || fields[0] != q.ARN {
		return nil, false, errReceiptHandleIsInvalid(handle)
	}
	for _, m := range q.messages {
		if m.id == fields[1] {
			return m, m.handle != handle, nil
		}
	}
	return nil, true, nil
}

// deleteLocked deletes the message a handle names. As SQS documents for
// DeleteMessage, a handle that is not the message's latest succeeds but
// deletes nothing (the message stays, and is received again), and a
// message already deleted is no error (caller holds c.mu).
func (q *queue) deleteLocked(handle string) *wire.Error {
	m, stale, apiErr := q.handleOf(handle)
	if apiErr != nil || stale {
		return apiErr
	}
	q.messages = removeMessage(q.messages, m)
	return nil
}

func removeMessage(list []*message, m *message) []*message {
	for i, x := range list {
		if x == m {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

func (c *Cloud) deleteMessage(cl *call) (any, *wire.Error) {
	var in struct {
		QueueURL      string `json:"QueueUrl"`
		ReceiptHandle string `json:"ReceiptHandle"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	q, apiErr := c.queueOf(cl.caller, in.QueueURL, "sqs:DeleteMessage")
	if apiErr != nil {
		return nil, apiErr
	}
	if in.ReceiptHandle == "" {
		return nil, sqsMissingParameter("ReceiptHandle")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if apiErr := q.deleteLocked(in.ReceiptHandle); apiErr != nil {
		return nil, apiErr
	}
	return struct{}{}, nil
}

var batchEntryIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

type batchResultError struct {
	ID          string `json:"Id"`
	SenderFault bool   `json:"SenderFault"`
	Code        string `json:"Code"`
	Message     string `json:"Message"`
}

func (c *Cloud) deleteMessageBatch(cl *call) (any, *wire.Error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		Entries  []struct {
			ID            string `json:"Id"`
			ReceiptHandle string `json:"ReceiptHandle"`
		} `json:"Entries"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	// Authorized as DeleteMessage: the batch has no action of its own.
	q, apiErr := c.queueOf(cl.caller, in.QueueURL, "sqs:DeleteMessage")
	if apiErr != nil {
		return nil, apiErr
	}
	switch {
	case len(in.Entries) == 0:
		return nil, sqsError(http.StatusBadRequest, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
			"There should be at least one DeleteMessageBatchRequestEntry in the request.")
	case len(in.Entries) > sqsMaxBatch:
		return nil, sqsError(http.StatusBadRequest, "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
			"Maximum number of entries per request are 10. You have sent %d.", len(in.Entries))
	}
	seen := map[string]bool{}
	for _, e := range in.Entries {
		if !batchEntryIDRE.MatchString(e.ID) {
			return nil, sqsError(http.StatusBadRequest, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
				"A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[e.ID] {
			return nil, sqsError(http.StatusBadRequest, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
				"Id %s repeated.", e.ID)
		}
		seen[e.ID] = true
	}
	out := struct {
		Successful []map[string]string `json:"Successful"`
		Failed     []batchResultError  `json:"Failed"`
	}{Successful: []map[string]string{}, Failed: []batchResultError{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range in.Entries {
		if apiErr := q.deleteLocked(e.ReceiptHandle); apiErr != nil {
			out.Failed = append(out.Failed, batchResultError{ID: e.ID, SenderFault: true, Code: apiErr.QueryCode, Message: apiErr.Message})
			continue
		}
		out.Successful = append(out.Successful, map[string]string{"Id": e.ID})
	}
	return out, nil
}

func (c *Cloud) changeMessageVisibility(cl *call) (any, *wire.Error) {
	var in struct {
		QueueURL          string `json:"QueueUrl"`
		ReceiptHandle     string `json:"ReceiptHandle"`
		VisibilityTimeout *int   `json:"VisibilityTimeout"`
	}
	if apiErr := wire.DecodeJSON(cl.body, &in); apiErr != nil {
		return nil, apiErr
	}
	q, apiErr := c.queueOf(cl.caller, in.QueueURL, "sqs:ChangeMessageVisibility")
	if apiErr != nil {
		return nil, apiErr
	}
	switch {
	case in.ReceiptHandle == "":
		return nil, sqsMissingParameter("ReceiptHandle")
	case in.VisibilityTimeout == nil:
		return nil, sqsMissingParameter("VisibilityTimeout")
	}
	v := time.Duration(*in.VisibilityTimeout) * time.Second
	if v < 0 || v > sqsMaxVisibility {
		return nil, sqsInvalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *in.VisibilityTimeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, stale, apiErr := q.handleOf(in.ReceiptHandle)
	if apiErr != nil {
		return nil, apiErr
	}
	now := c.clock.Now()
	// A handle is good for changing visibility while its receive holds
	// the message: not once the message is deleted, received again, or
	// visible again.
	if stale || !now.Before(m.visibleAt) {
		return nil, sqsInvalidParameter("Value %s for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.", in.ReceiptHandle)
	}
	m.visibleAt = now.Add(v)
	if v == 0 {
		q.notifyLocked()
	} else {
		c.after(v, q.notifyLocked)
	}
	return struct{}{}, nil
}

// --- EventBridge's dead letters -------------------------------------------------

// deadLetter is what EventBridge sends a rule target's dead-letter queue
// once it gives up on an event. The body is the event, unchanged; the
// message attributes say why (EventBridge User Guide, "Event retry policy
// and using dead-letter queues",
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html:
// "Each message in your DLQ will include the following custom attributes:
// RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE,
// EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS"). EXHAUSTED_RETRY_CONDITION
// (MaximumRetryAttempts or MaximumEventAgeInSeconds) is there only when
// the retry policy ran out, not for an error EventBridge does not retry.
type deadLetter struct {
	ruleARN, targetARN string
	errorCode          string
	errorMessage       string
	exhausted          string // "" for an error that was not retried
	retries            int
}

// dlqSender is the SenderId of EventBridge's dead letters (the
// service's own principal; the value real SQS reports for it is not
// modelled).
const dlqSender = "events.amazonaws.com"

// sendDeadLetterLocked puts an event in a queue as EventBridge does
// (caller holds c.mu). A queue that does not exist is EventBridge's
// InvocationsFailedToBeSentToDlq: the event is lost.
func (c *Cloud) sendDeadLetterLocked(queueARN string, event json.RawMessage, dl deadLetter) error {
	q := c.queues[queueARN]
	if q == nil {
		return fmt.Errorf("dead-letter queue %s does not exist", queueARN)
	}
	str := func(v string) messageAttribute { return messageAttribute{DataType: "String", StringValue: v} }
	attrs := map[string]messageAttribute{
		"RULE_ARN":       str(dl.ruleARN),
		"ERROR_CODE":     str(dl.errorCode),
		"ERROR_MESSAGE":  str(dl.errorMessage),
		"RETRY_ATTEMPTS": str(strconv.Itoa(dl.retries)),
	}
	if dl.targetARN != "" {
		attrs["TARGET_ARN"] = str(dl.targetARN)
	}
	if dl.exhausted != "" {
		attrs["EXHAUSTED_RETRY_CONDITION"] = str(dl.exhausted)
	}
	c.sendLocked(q, string(event), attrs, 0, dlqSender)
	return nil
}
