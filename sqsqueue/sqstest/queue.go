package sqstest

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SQS's limits, as documented for standard queues.
const (
	maxVisibility     = 43200 // seconds: 12 hours
	maxDelay          = 900   // seconds: 15 minutes
	maxWait           = 20    // seconds of long polling
	maxReceiveBatch   = 10
	maxMessageSize    = 1 << 20 // bytes: 1 MiB, the default and the most
	minMessageSize    = 1024
	defaultRetention  = 345600 // seconds: 4 days
	minRetention      = 60
	maxRetention      = 1209600 // 14 days
	maxRedriveCount   = 1000
	purgeInterval     = 60 * time.Second
	maxGroupIDLength  = 128
	maxQueueNameLen   = 80
	defaultVisibility = 30
)

// queue is one standard queue.
type queue struct {
	name              string
	arn               string
	created, modified time.Time
	raw               map[string]string // settable attributes as last set
	visibility        int
	delay             int
	wait              int
	maxSize           int
	retention         int
	redrive           *redrivePolicy
	msgs              []*message // in send order
	purged            time.Time
}

// redrivePolicy is a parsed RedrivePolicy attribute.
type redrivePolicy struct {
	target      string // dead-letter queue name
	maxReceives int
}

// message is one message in a queue.
type message struct {
	id, body, md5, group string
	sent                 time.Time
	visibleAt            time.Time
	receives             int
	firstReceive         time.Time
	receivedAt           time.Time // of the current receipt
	receipt              string    // current receipt handle, "" before the first receive
	serial               int
	deadSource           string // source queue ARN, once redriven
	senderID             string
}

func (h *Handler) arn(name string) string {
	return "arn:aws:sqs:" + h.region + ":" + Account + ":" + name
}

func queueURL(r *http.Request, name string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/" + Account + "/" + name
}

// queueByURL finds the queue a QueueUrl names (the host is not checked: clients reach
// the fake under several names). Callers hold h.mu.
func (h *Handler) queueByURL(raw *string) (*queue, *apiError) {
	if raw == nil || *raw == "" {
		return nil, errMissingParameter.with("The request must contain the parameter QueueUrl.")
	}
	u, err := url.Parse(*raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errInvalidAddress.with("The address %s is not valid for this endpoint.", *raw)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 {
		return nil, errInvalidAddress.with("The address %s is not valid for this endpoint.", *raw)
	}
	q := h.queues[parts[1]]
	if parts[0] != Account || q == nil {
		return nil, errQueueDoesNotExist.with("The specified queue does not exist.")
	}
	return q, nil
}

func checkQueueName(name string) *apiError {
	if strings.HasSuffix(name, ".fifo") {
		return errUnsupported.with("The SQS fake does not serve FIFO queues.")
	}
	ok := len(name) >= 1 && len(name) <= maxQueueNameLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return errInvalidParameter.with("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	return nil
}

// settable are the queue attributes CreateQueue and SetQueueAttributes take.
var settable = []string{"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod", "Policy",
	"ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "RedrivePolicy", "RedriveAllowPolicy",
	"KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "FifoQueue"}

// readable are the attribute names GetQueueAttributes takes.
var readable = append(slices.Clone(settable), "All", "ApproximateNumberOfMessages",
	"ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed",
	"CreatedTimestamp", "LastModifiedTimestamp", "QueueArn",
	"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")

// applyAttrs validates attrs and sets them on q. Callers hold h.mu.
func (h *Handler) applyAttrs(q *queue, attrs map[string]string) *apiError {
	next := *q
	next.raw = map[string]string{}
	for k, v := range q.raw {
		next.raw[k] = v
	}
	intIn := func(name, v string, lo, hi int) (int, *apiError) {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, errInvalidAttrValue.with("Invalid value for the parameter %s.", name)
		}
		return n, nil
	}
	for name, v := range attrs {
		var bad *apiError
		switch name {
		case "VisibilityTimeout":
			next.visibility, bad = intIn(name, v, 0, maxVisibility)
		case "DelaySeconds":
			next.delay, bad = intIn(name, v, 0, maxDelay)
		case "ReceiveMessageWaitTimeSeconds":
			next.wait, bad = intIn(name, v, 0, maxWait)
		case "MaximumMessageSize":
			next.maxSize, bad = intIn(name, v, minMessageSize, maxMessageSize)
		case "MessageRetentionPeriod":
			next.retention, bad = intIn(name, v, minRetention, maxRetention)
		case "KmsDataKeyReusePeriodSeconds":
			_, bad = intIn(name, v, 60, 86400)
		case "SqsManagedSseEnabled":
			if v != "true" && v != "false" {
				bad = errInvalidAttrValue.with("Invalid value for the parameter %s.", name)
			}
		case "FifoQueue":
			if v == "true" {
				bad = errUnsupported.with("The SQS fake does not serve FIFO queues.")
			} else if v != "false" {
				bad = errInvalidAttrValue.with("Invalid value for the parameter %s.", name)
			}
		case "Policy", "RedriveAllowPolicy":
			if v != "" && !json.Valid([]byte(v)) {
				bad = errInvalidAttrValue.with("Invalid value for the parameter %s.", name)
			}
		case "KmsMasterKeyId":
		case "RedrivePolicy":
			next.redrive, bad = h.parseRedrive(q.name, v)
		default:
			bad = errInvalidAttrName.with("Unknown Attribute %s.", name)
		}
		if bad != nil {
			return bad
		}
		next.raw[name] = v
	}
	*q = next
	return nil
}

// parseRedrive parses a RedrivePolicy attribute ("" removes the policy).
func (h *Handler) parseRedrive(self, v string) (*redrivePolicy, *apiError) {
	if v == "" {
		return nil, nil
	}
	invalid := func(reason string) *apiError {
		return errInvalidParameter.with("Value %s for parameter RedrivePolicy is invalid. Reason: %s", v, reason)
	}
	var p struct {
		Target string          `json:"deadLetterTargetArn"`
		Max    json.RawMessage `json:"maxReceiveCount"`
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, invalid("Redrive policy is not a valid JSON map of deadLetterTargetArn and maxReceiveCount.")
	}
	var n int
	s := strings.Trim(string(p.Max), `"`)
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxRedriveCount {
		return nil, invalid("Invalid value for maxReceiveCount: must be an integer from 1 to 1000.")
	}
	prefix := "arn:aws:sqs:" + h.region + ":" + Account + ":"
	name, ok := strings.CutPrefix(p.Target, prefix)
	if !ok || h.queues[name] == nil {
		return nil, invalid("Dead letter target does not exist.")
	}
	if name == self {
		return nil, invalid("Dead letter target cannot be the queue itself.")
	}
	return &redrivePolicy{target: name, maxReceives: n}, nil
}

// CreateQueue creates a standard queue with the given attributes, as the CreateQueue
// call does (creating an existing queue with the same attributes is not an error).
func (h *Handler) CreateQueue(name string, attrs map[string]string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.createLocked(name, attrs); e != nil {
		return e
	}
	return nil
}

func (h *Handler) createLocked(name string, attrs map[string]string) *apiError {
	if e := checkQueueName(name); e != nil {
		return e
	}
	if q := h.queues[name]; q != nil {
		for k, v := range attrs {
			if cur, ok := q.raw[k]; !ok && v != defaultAttr(k) || ok && cur != v {
				return errQueueNameExists.with("A queue already exists with the same name and a different value for attribute %s", k)
			}
		}
		return nil
	}
	now := time.Now()
	q := &queue{name: name, arn: h.arn(name), created: now, modified: now, raw: map[string]string{},
		visibility: defaultVisibility, maxSize: maxMessageSize, retention: defaultRetention}
	if e := h.applyAttrs(q, attrs); e != nil {
		return e
	}
	h.queues[name] = q
	return nil
}

func defaultAttr(name string) string {
	switch name {
	case "VisibilityTimeout":
		return strconv.Itoa(defaultVisibility)
	case "DelaySeconds", "ReceiveMessageWaitTimeSeconds":
		return "0"
	case "MaximumMessageSize":
		return strconv.Itoa(maxMessageSize)
	case "MessageRetentionPeriod":
		return strconv.Itoa(defaultRetention)
	}
	return ""
}

// QueueStats counts a queue's messages.
type QueueStats struct {
	Visible  int // ready to receive (including those due for the dead-letter queue)
	InFlight int // received and invisible
	Delayed  int // sent with a delay that has not passed
}

// Stats counts the messages of the named queue (zero if there is no such queue).
func (h *Handler) Stats(name string) QueueStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	var s QueueStats
	q := h.queues[name]
	if q == nil {
		return s
	}
	now := time.Now()
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			s.Visible++
		case m.receives > 0:
			s.InFlight++
		default:
			s.Delayed++
		}
	}
	return s
}

// signal wakes long polls. Callers hold h.mu.
func (h *Handler) signal() {
	close(h.changed)
	h.changed = make(chan struct{})
}

type createQueueInput struct {
	QueueName  *string           `json:"QueueName"`
	Attributes map[string]string `json:"Attributes"`
	Tags       map[string]string `json:"tags"`
}

func (h *Handler) createQueue(r *http.Request, body []byte) (any, *apiError) {
	var in createQueueInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.QueueName == nil {
		return nil, errMissingParameter.with("The request must contain the parameter QueueName.")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.createLocked(*in.QueueName, in.Attributes); e != nil {
		return nil, e
	}
	return map[string]string{"QueueUrl": queueURL(r, *in.QueueName)}, nil
}

type getQueueURLInput struct {
	QueueName              *string `json:"QueueName"`
	QueueOwnerAWSAccountID *string `json:"QueueOwnerAWSAccountId"`
}

func (h *Handler) getQueueURL(r *http.Request, body []byte) (any, *apiError) {
	var in getQueueURLInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.QueueName == nil {
		return nil, errMissingParameter.with("The request must contain the parameter QueueName.")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.queues[*in.QueueName] == nil || in.QueueOwnerAWSAccountID != nil && *in.QueueOwnerAWSAccountID != Account {
		return nil, errQueueDoesNotExist.with("The specified queue does not exist.")
	}
	return map[string]string{"QueueUrl": queueURL(r, *in.QueueName)}, nil
}

type getQueueAttributesInput struct {
	QueueURL       *string  `json:"QueueUrl"`
	AttributeNames []string `json:"AttributeNames"`
}

func (h *Handler) getQueueAttributes(_ *http.Request, body []byte) (any, *apiError) {
	var in getQueueAttributesInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	q, e := h.queueByURL(in.QueueURL)
	if e != nil {
		return nil, e
	}
	for _, n := range in.AttributeNames {
		if !slices.Contains(readable, n) {
			return nil, errInvalidAttrName.with("Unknown Attribute %s.", n)
		}
	}
	now := time.Now()
	var visible, inflight, delayed int
	for _, m := range q.msgs {
		switch {
		case !m.visibleAt.After(now):
			visible++
		case m.receives > 0:
			inflight++
		default:
			delayed++
		}
	}
	all := map[string]string{
		"QueueArn":                              q.arn,
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inflight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.modified.Unix(), 10),
		"VisibilityTimeout":                     strconv.Itoa(q.visibility),
		"DelaySeconds":                          strconv.Itoa(q.delay),
		"ReceiveMessageWaitTimeSeconds":         strconv.Itoa(q.wait),
		"MaximumMessageSize":                    strconv.Itoa(q.maxSize),
		"MessageRetentionPeriod":                strconv.Itoa(q.retention),
		"SqsManagedSseEnabled":                  "false",
	}
	for k, v := range q.raw {
		if k != "FifoQueue" && v != "" {
			all[k] = v
		}
	}
	out := map[string]string{}
	for _, n := range in.AttributeNames {
		if n == "All" {
			out = all
			break
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	if len(out) == 0 {
		return struct{}{}, nil
	}
	return map[string]any{"Attributes": out}, nil
}

type setQueueAttributesInput struct {
	QueueURL   *string           `json:"QueueUrl"`
	Attributes map[string]string `json:"Attributes"`
}

func (h *Handler) setQueueAttributes(_ *http.Request, body []byte) (any, *apiError) {
	var in setQueueAttributesInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Attributes == nil {
		return nil, errMissingParameter.with("The request must contain the parameter Attributes.")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	q, e := h.queueByURL(in.QueueURL)
	if e != nil {
		return nil, e
	}
	if e := h.applyAttrs(q, in.Attributes); e != nil {
		return nil, e
	}
	q.modified = time.Now()
	h.signal() // a new redrive policy or wait time applies to waiting polls at once
	return struct{}{}, nil
}

type listQueuesInput struct {
	QueueNamePrefix *string `json:"QueueNamePrefix"`
	MaxResults      *int32  `json:"MaxResults"`
	NextToken       *string `json:"NextToken"`
}

func (h *Handler) listQueues(r *http.Request, body []byte) (any, *apiError) {
	var in listQueuesInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.MaxResults != nil && (*in.MaxResults < 1 || *in.MaxResults > 1000) {
		return nil, errInvalidParameter.with("Value %d for parameter MaxResults is invalid. Reason: must be between 1 and 1000.", *in.MaxResults)
	}
	if in.NextToken != nil {
		return nil, errInvalidParameter.with("The SQS fake answers every queue in one page: it issued no NextToken.")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var names []string
	for name := range h.queues {
		if in.QueueNamePrefix == nil || strings.HasPrefix(name, *in.QueueNamePrefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if in.MaxResults != nil && len(names) > int(*in.MaxResults) {
		names = names[:*in.MaxResults]
	}
	urls := make([]string, len(names))
	for i, n := range names {
		urls[i] = queueURL(r, n)
	}
	if len(urls) == 0 {
		return struct{}{}, nil
	}
	return map[string]any{"QueueUrls": urls}, nil
}

type queueURLInput struct {
	QueueURL *string `json:"QueueUrl"`
}

func (h *Handler) deleteQueue(_ *http.Request, body []byte) (any, *apiError) {
	var in queueURLInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	q, e := h.queueByURL(in.QueueURL)
	if e != nil {
		return nil, e
	}
	delete(h.queues, q.name)
	h.signal()
	return struct{}{}, nil
}

func (h *Handler) purgeQueue(_ *http.Request, body []byte) (any, *apiError) {
	var in queueURLInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	q, e := h.queueByURL(in.QueueURL)
	if e != nil {
		return nil, e
	}
	now := time.Now()
	if !q.purged.IsZero() && now.Sub(q.purged) < purgeInterval {
		return nil, errPurgeInProgress.with("Only one PurgeQueue operation on %s is allowed every 60 seconds.", q.name)
	}
	q.purged, q.msgs = now, nil
	return struct{}{}, nil
}

type sendMessageInput struct {
	QueueURL                *string         `json:"QueueUrl"`
	MessageBody             *string         `json:"MessageBody"`
	DelaySeconds            *int32          `json:"DelaySeconds"`
	MessageGroupID          *string         `json:"MessageGroupId"`
	MessageDeduplicationID  *string         `json:"MessageDeduplicationId"`
	MessageAttributes       json.RawMessage `json:"MessageAttributes"`
	MessageSystemAttributes json.RawMessage `json:"MessageSystemAttributes"`
}

// validBody reports whether s has only the characters SQS allows in a message:
// #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
func validBody(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		ok := c == 0x9 || c == 0xA || c == 0xD || c >= 0x20 && c <= 0xD7FF ||
			c >= 0xE000 && c <= 0xFFFD || c >= 0x10000 && c <= 0x10FFFF
		if !ok {
			return false
		}
	}
	return true
}

// validGroupID reports whether s is a valid MessageGroupId: 1 to 128 characters,
// alphanumeric or punctuation.
func validGroupID(s string) bool {
	if len(s) < 1 || len(s) > maxGroupIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '!' && c <= '~') {
			return false
		}
	}
	return true
}

func (h *Handler) sendMessage(r *http.Request, body []byte) (any, *apiError) {
	var in sendMessageInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.MessageAttributes != nil || in.MessageSystemAttributes != nil {
		return nil, errUnsupported.with("The SQS fake does not support message attributes.")
	}
	if in.MessageBody == nil {
		return nil, errMissingParameter.with("The request must contain the parameter MessageBody.")
	}
	if *in.MessageBody == "" {
		return nil, errInvalidParameter.with("Value for parameter MessageBody is invalid. Reason: Message must contain at least one character.")
	}
	if !validBody(*in.MessageBody) {
		return nil, errInvalidContents.with("Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
	}
	if in.DelaySeconds != nil && (*in.DelaySeconds < 0 || *in.DelaySeconds > maxDelay) {
		return nil, errInvalidParameter.with("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *in.DelaySeconds)
	}
	if in.MessageDeduplicationID != nil {
		return nil, errInvalidParameter.with("The request include parameter that is not valid for this queue type.")
	}
	if in.MessageGroupID != nil && !validGroupID(*in.MessageGroupID) {
		return nil, errInvalidParameter.with("Value %s for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.", *in.MessageGroupID)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	q, e := h.queueByURL(in.QueueURL)
	if e != nil {
		return nil, e
	}
	if len(*in.MessageBody) > q.maxSize {
		return nil, errInvalidParameter.with("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.maxSize)
	}
	delay := q.delay
	if in.DelaySeconds != nil {
		delay = int(*in.DelaySeconds)
	}
	sum := md5.Sum([]byte(*in.MessageBody))
	now := time.Now()
	m := &message{id: newRequestID(), body: *in.MessageBody, md5: hex.EncodeToString(sum[:]),
		sent: now, visibleAt: now.Add(time.Duration(delay) * time.Second), senderID: h.verifier.AccessKey}
	if in.MessageGroupID != nil {
		m.group = *in.MessageGroupID
	}
	q.msgs = append(q.msgs, m)
	if delay == 0 {
		h.signal()
	}
	return map[string]string{"MD5OfMessageBody": m.md5, "MessageId": m.id}, nil
}

type receiveMessageInput struct {
	QueueURL                    *string  `json:"QueueUrl"`
	AttributeNames              []string `json:"AttributeNames"`
	MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
	MessageAttributeNames       []string `json:"MessageAttributeNames"`
	MaxNumberOfMessages         *int32   `json:"MaxNumberOfMessages"`
	VisibilityTimeout           *int32   `json:"VisibilityTimeout"`
	WaitTimeSeconds             *int32   `json:"WaitTimeSeconds"`
	ReceiveRequestAttemptID     *string  `json:"ReceiveRequestAttemptId"`
}

var systemAttributes = []string{"All", "SenderId", "SentTimestamp", "ApproximateReceiveCount",
	"ApproximateFirstReceiveTimestamp", "SequenceNumber", "MessageDeduplicationId",
	"MessageGroupId", "AWSTraceHeader", "DeadLetterQueueSourceArn"}

// wireMessage is a received message as ReceiveMessage answers it.
type wireMessage struct {
	MessageID     string            `json:"MessageId"`
	ReceiptHandle string            `json:"ReceiptHandle"`
	MD5OfBody     string            `json:"MD5OfBody"`
	Body          string            `json:"Body"`
	Attributes    map[string]string `json:"Attributes,omitempty"`
}

func (h *Handler) receiveMessage(r *http.Request, body []byte) (any, *apiError) {
	var in receiveMessageInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	maxN := 1
	if in.MaxNumberOfMessages != nil {
		if n := *in.MaxNumberOfMessages; n < 1 || n > maxReceiveBatch {
			return nil, errInvalidParameter.with("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", n)
		}
		maxN = int(*in.MaxNumberOfMessages)
	}
	if v := in.VisibilityTimeout; v != nil && (*v < 0 || *v > maxVisibility) {
		return nil, errInvalidParameter.with("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", *v)
	}
	if v := in.WaitTimeSeconds; v != nil && (*v < 0 || *v > maxWait) {
		return nil, errInvalidParameter.with("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *v)
	}
	want := map[string]bool{}
	for _, n := range slices.Concat(in.AttributeNames, in.MessageSystemAttributeNames) {
		if !slices.Contains(systemAttributes, n) {
			return nil, errInvalidAttrName.with("Unknown Attribute %s.", n)
		}
		want[n] = true
	}
	for _, n := range in.MessageAttributeNames {
		if n == "" || len(n) > 256 {
			return nil, errInvalidParameter.with("Value %q for parameter MessageAttributeNames is invalid.", n)
		}
	}
	h.mu.Lock()
	q, e := h.queueByURL(in.QueueURL)
	if e != nil {
		h.mu.Unlock()
		return nil, e
	}
	name := q.name
	visibility, wait := q.visibility, q.wait
	h.mu.Unlock()
	if in.VisibilityTimeout != nil {
		visibility = int(*in.VisibilityTimeout)
	}
	if in.WaitTimeSeconds != nil {
		wait = int(*in.WaitTimeSeconds)
	}
	deadline := time.Now().Add(time.Duration(wait) * time.Second)
	for {
		h.mu.Lock()
		q := h.queues[name]
		if q == nil {
			h.mu.Unlock()
			return nil, errQueueDoesNotExist.with("The specified queue does not exist.")
		}
		if r.Context().Err() != nil { // the client gave up: take nothing
			h.mu.Unlock()
			return nil, errInternal.with("The client went away.")
		}
		now := time.Now()
		got, next := h.take(q, now, maxN, time.Duration(visibility)*time.Second)
		changed := h.changed
		h.mu.Unlock()
		if len(got) > 0 {
			out := make([]wireMessage, len(got))
			for i, m := range got {
				out[i] = wireMessage{MessageID: m.id, ReceiptHandle: m.receipt, MD5OfBody: m.md5, Body: m.body,
					Attributes: m.attributes(want)}
			}
			return map[string]any{"Messages": out}, nil
		}
		if !now.Before(deadline) {
			return struct{}{}, nil
		}
		wake := deadline
		if !next.IsZero() && next.Before(wake) {
			wake = next
		}
		t := time.NewTimer(wake.Sub(now))
		select {
		case <-t.C:
		case <-changed:
		case <-r.Context().Done():
		}
		t.Stop()
	}
}

// take receives up to n visible messages of q, moving those received too often to the
// dead-letter queue, and returns when the next invisible message becomes visible.
// Callers hold h.mu.
func (h *Handler) take(q *queue, now time.Time, n int, visibility time.Duration) ([]*message, time.Time) {
	var got []*message
	var next time.Time
	keep := q.msgs[:0]
	moved := false
	for _, m := range q.msgs {
		switch {
		case now.Sub(m.sent) > time.Duration(q.retention)*time.Second:
			continue // expired: dropped
		case m.visibleAt.After(now):
			if next.IsZero() || m.visibleAt.Before(next) {
				next = m.visibleAt
			}
		case len(got) >= n:
		case q.redrive != nil && m.receives >= q.redrive.maxReceives && h.queues[q.redrive.target] != nil:
			dlq := h.queues[q.redrive.target]
			m.deadSource, m.receipt, m.visibleAt = q.arn, "", now
			dlq.msgs = append(dlq.msgs, m)
			moved = true
			continue
		default:
			m.receives++
			m.serial++
			if m.firstReceive.IsZero() {
				m.firstReceive = now
			}
			m.receivedAt = now
			m.visibleAt = now.Add(visibility)
			m.receipt = encodeReceipt(q.name, m.id, m.serial)
			got = append(got, m)
			if visibility > 0 && (next.IsZero() || m.visibleAt.Before(next)) {
				next = m.visibleAt
			}
		}
		keep = append(keep, m)
	}
	clear(q.msgs[len(keep):])
	q.msgs = keep
	if moved {
		h.signal()
	}
	return got, next
}

func (m *message) attributes(want map[string]bool) map[string]string {
	if len(want) == 0 {
		return nil
	}
	all := want["All"]
	out := map[string]string{}
	set := func(name, v string) {
		if (all || want[name]) && v != "" {
			out[name] = v
		}
	}
	set("SenderId", m.senderID)
	set("SentTimestamp", strconv.FormatInt(m.sent.UnixMilli(), 10))
	set("ApproximateReceiveCount", strconv.Itoa(m.receives))
	set("ApproximateFirstReceiveTimestamp", strconv.FormatInt(m.firstReceive.UnixMilli(), 10))
	set("MessageGroupId", m.group)
	set("DeadLetterQueueSourceArn", m.deadSource)
	return out
}

// encodeReceipt makes a receipt handle that names the queue, the message and the
// receive it belongs to, plus random bytes so that it cannot be guessed.
func encodeReceipt(queue, id string, serial int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%s", queue, id, serial, randomHex(8)))
}

func decodeReceipt(rh string) (queue, id string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(rh)
	if err != nil {
		return "", "", false
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 4 {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// findByReceipt returns the message a receipt handle belongs to (nil if it is gone)
// and whether the handle is the message's current one. Callers hold h.mu.
func findByReceipt(q *queue, rh *string) (*message, bool, *apiError) {
	if rh == nil || *rh == "" {
		return nil, false, errMissingParameter.with("The request must contain the parameter ReceiptHandle.")
	}
	qname, id, ok := decodeReceipt(*rh)
	if !ok || qname != q.name {
		return nil, false, errReceiptInvalid.with("The input receipt handle \"%s\" is not a valid receipt handle.", *rh)
	}
	for _, m := range q.msgs {
		if m.id == id {
			return m, m.receipt == *rh, nil
		}
	}
	return nil, false, nil
}

type receiptInput struct {
	QueueURL      *string `json:"QueueUrl"`
	ReceiptHandle *string `json:"ReceiptHandle"`
}

func (h *Handler) deleteMessage(_ *http.Request, body []byte) (any, *apiError) {
	var in receiptInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	q, e := h.queueByURL(in.QueueURL)
	if e != nil {
		return nil, e
	}
	m, current, e := findByReceipt(q, in.ReceiptHandle)
	if e != nil {
		return nil, e
	}
	// As SQS documents: deleting with a receipt handle that is not the most recent one
	// succeeds but does not delete the message; a deleted message stays deleted.
	if m != nil && current {
		q.msgs = slices.DeleteFunc(q.msgs, func(x *message) bool { return x == m })
	}
	return struct{}{}, nil
}

type changeVisibilityInput struct {
	QueueURL          *string `json:"QueueUrl"`
	ReceiptHandle     *string `json:"ReceiptHandle"`
	VisibilityTimeout *int32  `json:"VisibilityTimeout"`
}

func (h *Handler) changeVisibility(_ *http.Request, body []byte) (any, *apiError) {
	var in changeVisibilityInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.VisibilityTimeout == nil {
		return nil, errMissingParameter.with("The request must contain the parameter VisibilityTimeout.")
	}
	v := int(*in.VisibilityTimeout)
	if v < 0 || v > maxVisibility {
		return nil, errInvalidParameter.with("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200.", v)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	q, e := h.queueByURL(in.QueueURL)
	if e != nil {
		return nil, e
	}
	m, current, e := findByReceipt(q, in.ReceiptHandle)
	if e != nil {
		return nil, e
	}
	if m == nil || !current {
		return nil, errInvalidParameter.with("Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.", *in.ReceiptHandle)
	}
	now := time.Now()
	if !m.visibleAt.After(now) {
		return nil, errMessageNotInflight.with("The message referred to is not in flight.")
	}
	if until := now.Add(time.Duration(v) * time.Second); until.Sub(m.receivedAt) > maxVisibility*time.Second {
		return nil, errInvalidParameter.with("Value %d for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds].", v)
	} else {
		m.visibleAt = until
	}
	if v == 0 {
		h.signal()
	}
	return struct{}{}, nil
}
