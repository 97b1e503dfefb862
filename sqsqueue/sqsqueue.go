// Package sqsqueue is the Queue adapter over Amazon SQS (AWS SDK for Go v2): a standard
// queue that names jobs, with its dead-letter queue. Endpoint, region and credentials
// come from the SDK's standard settings (AWS_REGION, AWS_ENDPOINT_URL_SQS, the default
// credential chain); the queue URL names only the queues and the redrive limit.
//
// Dead letters: when the queue has a RedrivePolicy, SQS itself moves a message received
// more than maxReceiveCount times to the dead-letter queue. When it has none and the
// URL names a dead-letter queue and max_receives, the adapter does the same on receive
// (it sends the message there and deletes it from the queue).
//
// SQS counts time in whole seconds: waits, visibility timeouts and delays are rounded
// up to the next second (a positive visibility to at least one second), delays are
// capped at 15 minutes and visibility timeouts at 12 hours. A Receive with a zero wait
// uses the queue's ReceiveMessageWaitTimeSeconds, as SQS does when no wait is sent.
package sqsqueue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/easelhq/easel"
)

// SQS's limits.
const (
	// MaxBatch is the most messages one ReceiveMessage returns.
	MaxBatch = 10
	// MaxDelay is the longest delay SQS takes: longer ones are capped (callers re-check
	// the job's NotBefore).
	MaxDelay = 15 * time.Minute
	// MaxVisibility is the longest visibility timeout SQS takes.
	MaxVisibility = 12 * time.Hour
	// maxWaitPerCall is the longest long poll of one ReceiveMessage.
	maxWaitPerCall = 20 * time.Second
)

// Queue is an easel.Queue over an SQS standard queue and its dead-letter queue.
type Queue struct {
	client      *sqs.Client
	name, url   string
	dlqURL      string // "" when there is no dead-letter queue
	maxReceives int    // 0 when there is no dead-letter queue
	// native: the queue's RedrivePolicy moves dead messages; otherwise the adapter does.
	native bool
}

var _ easel.Queue = (*Queue)(nil)

// Open resolves the queues rawURL names (see ParseURL) and their redrive settings,
// with cfg, typically from config.LoadDefaultConfig. It calls GetQueueUrl and
// GetQueueAttributes, so it fails early when a queue is missing or unreachable. With a
// RedrivePolicy on the queue, dlq and max_receives may be given but must agree with it.
func Open(ctx context.Context, cfg aws.Config, rawURL string) (*Queue, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if loc.Region == "" && cfg.Region == "" {
		return nil, fmt.Errorf("queue URL %q: no AWS region: set AWS_REGION or add ?region=", rawURL)
	}
	q := &Queue{client: sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if loc.Region != "" {
			o.Region = loc.Region
		}
	}), name: loc.Name, url: loc.URL}
	if q.url == "" {
		if q.url, err = q.resolve(ctx, loc.Name, ""); err != nil {
			return nil, err
		}
	}
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &q.url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		return nil, q.translate(err, "read the attributes of")
	}
	policy, err := parseRedrivePolicy(out.Attributes["RedrivePolicy"])
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", q.name, err)
	}
	switch {
	case policy != nil:
		q.native, q.maxReceives = true, policy.maxReceives
		if loc.MaxReceives != 0 && loc.MaxReceives != policy.maxReceives {
			return nil, fmt.Errorf("queue URL %q: max_receives=%d but the queue's RedrivePolicy says maxReceiveCount %d", rawURL, loc.MaxReceives, policy.maxReceives)
		}
		if loc.DeadLetter != "" && dlqName(loc.DeadLetter) != policy.name {
			return nil, fmt.Errorf("queue URL %q: dlq=%s but the queue's RedrivePolicy sends dead letters to %q", rawURL, loc.DeadLetter, policy.name)
		}
		if q.dlqURL, err = q.resolve(ctx, policy.name, policy.account); err != nil {
			return nil, err
		}
	case loc.DeadLetter != "":
		if loc.MaxReceives == 0 {
			return nil, fmt.Errorf("queue URL %q: the queue has no RedrivePolicy: with dlq, give max_receives too", rawURL)
		}
		q.maxReceives = loc.MaxReceives
		if strings.Contains(loc.DeadLetter, "://") {
			d, _ := ParseURL(loc.DeadLetter)
			q.dlqURL = d.URL
		} else if q.dlqURL, err = q.resolve(ctx, loc.DeadLetter, ""); err != nil {
			return nil, err
		}
	case loc.MaxReceives != 0:
		return nil, fmt.Errorf("queue URL %q: max_receives without a dead-letter queue: add dlq=NAME or a RedrivePolicy", rawURL)
	}
	return q, nil
}

func dlqName(v string) string {
	if d, err := ParseURL(v); err == nil && d.URL != "" {
		return d.Name
	}
	return v
}

// resolve returns the URL of the named queue.
func (q *Queue) resolve(ctx context.Context, name, account string) (string, error) {
	in := &sqs.GetQueueUrlInput{QueueName: &name}
	if account != "" {
		in.QueueOwnerAWSAccountId = &account
	}
	out, err := q.client.GetQueueUrl(ctx, in)
	if err != nil {
		var dne *types.QueueDoesNotExist
		if errors.As(err, &dne) {
			return "", easel.WrapError(easel.EInternal, err, "SQS queue %q does not exist", name)
		}
		return "", q.translate(err, "find")
	}
	return aws.ToString(out.QueueUrl), nil
}

type redrivePolicy struct {
	name, account string
	maxReceives   int
}

// parseRedrivePolicy reads a RedrivePolicy attribute ("" for none): maxReceiveCount
// comes as a string or a number.
func parseRedrivePolicy(v string) (*redrivePolicy, error) {
	if v == "" {
		return nil, nil
	}
	var p struct {
		Target string          `json:"deadLetterTargetArn"`
		Max    json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return nil, fmt.Errorf("RedrivePolicy %s: %w", v, err)
	}
	n, err := strconv.Atoi(strings.Trim(string(p.Max), `"`))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("RedrivePolicy %s: maxReceiveCount is not a positive integer", v)
	}
	// arn:aws:sqs:REGION:ACCOUNT:NAME
	parts := strings.Split(p.Target, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" {
		return nil, fmt.Errorf("RedrivePolicy %s: deadLetterTargetArn is not an SQS queue ARN", v)
	}
	return &redrivePolicy{name: parts[5], account: parts[4], maxReceives: n}, nil
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// MaxReceives returns how many receives a message may have before it goes to the
// dead-letter queue (0: no dead-letter queue).
func (q *Queue) MaxReceives() int { return q.maxReceives }

// seconds rounds d up to whole seconds within [lo, hi].
func seconds(d time.Duration, lo, hi int32) int32 {
	s := (d + time.Second - 1) / time.Second
	return int32(max(int64(lo), min(int64(hi), int64(s))))
}

// wireMessage is a message body: the QueueMessage, plus, for messages the adapter
// moved to the dead-letter queue itself, what SQS would have kept.
type wireMessage struct {
	easel.QueueMessage
	SentAt   int64 `json:"sent_at,omitempty"`       // ms since the epoch
	Receives int   `json:"receive_count,omitempty"` // receives in the source queue
}

// groupID returns the MessageGroupId for a tenant: the tenant itself when SQS takes it
// (1 to 128 printable ASCII characters), else a hash of it.
func groupID(group string) *string {
	if group == "" {
		return nil
	}
	ok := len(group) <= 128
	for i := 0; ok && i < len(group); i++ {
		ok = group[i] >= '!' && group[i] <= '~'
	}
	if !ok {
		sum := sha256.Sum256([]byte(group))
		group = "sha256-" + hex.EncodeToString(sum[:16])
	}
	return &group
}

// Send enqueues msg with MessageGroupId = msg.Group, so that SQS fair queues share
// consumers between tenants. The delay is rounded up to seconds and capped at MaxDelay.
func (q *Queue) Send(ctx context.Context, msg easel.QueueMessage, delay time.Duration) error {
	if msg.JobID == "" {
		return fmt.Errorf("send to queue %q: empty job id", q.name)
	}
	body, err := json.Marshal(wireMessage{QueueMessage: msg})
	if err != nil {
		return err
	}
	_, err = q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:       &q.url,
		MessageBody:    aws.String(string(body)),
		DelaySeconds:   seconds(delay, 0, int32(MaxDelay/time.Second)),
		MessageGroupId: groupID(msg.Group),
	})
	if err != nil {
		return q.translate(err, "send to")
	}
	return nil
}

var systemAttributes = []types.MessageSystemAttributeName{
	types.MessageSystemAttributeNameApproximateReceiveCount,
	types.MessageSystemAttributeNameSentTimestamp,
}

// Receive long-polls (20 s per call at most, repeated until wait passes) for up to
// max messages (at most MaxBatch per call).
func (q *Queue) Receive(ctx context.Context, max int, wait, visibility time.Duration) ([]*easel.Delivery, error) {
	if max < 1 {
		return nil, fmt.Errorf("receive from queue %q: max %d, want at least 1", q.name, max)
	}
	deadline := time.Now().Add(wait)
	for {
		out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    &q.url,
			MaxNumberOfMessages:         int32(min(max, MaxBatch)),
			VisibilityTimeout:           seconds(visibility, 1, int32(MaxVisibility/time.Second)),
			WaitTimeSeconds:             seconds(time.Until(deadline), 0, int32(maxWaitPerCall/time.Second)),
			MessageSystemAttributeNames: systemAttributes,
		})
		if err != nil {
			return nil, q.translate(err, "receive from")
		}
		ds, err := q.deliveries(ctx, out.Messages, false)
		if err != nil || len(ds) > 0 || !time.Now().Before(deadline) {
			return ds, err
		}
	}
}

// ReceiveDead short-polls the dead-letter queue: on a sparse queue SQS may answer
// none although some wait, which a periodic sweep makes up for.
func (q *Queue) ReceiveDead(ctx context.Context, max int, visibility time.Duration) ([]*easel.Delivery, error) {
	if q.dlqURL == "" {
		return nil, nil
	}
	if max < 1 {
		return nil, fmt.Errorf("receive from the dead-letter queue of %q: max %d, want at least 1", q.name, max)
	}
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &q.dlqURL,
		MaxNumberOfMessages:         int32(min(max, MaxBatch)),
		VisibilityTimeout:           seconds(visibility, 1, int32(MaxVisibility/time.Second)),
		MessageSystemAttributeNames: systemAttributes,
	})
	if err != nil {
		return nil, q.translate(err, "receive from the dead-letter queue of")
	}
	return q.deliveries(ctx, out.Messages, true)
}

// deliveries turns received messages into deliveries. On the queue, a message past
// the receive limit that SQS did not move (no RedrivePolicy) is moved to the
// dead-letter queue here. A body that names no job is deleted: no job depends on it.
func (q *Queue) deliveries(ctx context.Context, msgs []types.Message, dead bool) ([]*easel.Delivery, error) {
	url := q.url
	if dead {
		url = q.dlqURL
	}
	out := make([]*easel.Delivery, 0, len(msgs))
	for _, m := range msgs {
		var w wireMessage
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &w); err != nil || w.JobID == "" {
			if err := q.delete(ctx, url, m.ReceiptHandle); err != nil {
				return out, err
			}
			continue
		}
		count, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
		sentMS, _ := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64)
		if w.SentAt != 0 {
			sentMS, count = w.SentAt, w.Receives+count
		}
		if !dead && !q.native && q.maxReceives > 0 && count > q.maxReceives {
			if err := q.moveToDead(ctx, w, sentMS, count-1, m.ReceiptHandle); err != nil {
				return out, err
			}
			continue
		}
		out = append(out, &easel.Delivery{
			QueueMessage: w.QueueMessage,
			Receipt:      aws.ToString(m.ReceiptHandle),
			ReceiveCount: count,
			SentAt:       time.UnixMilli(sentMS).UTC(),
			Dead:         dead,
		})
	}
	return out, nil
}

// moveToDead does what SQS redrive does, for a queue without a RedrivePolicy: the
// message goes to the dead-letter queue (keeping its first send time and receive
// count), then leaves the queue. A crash in between leaves it in both, which is
// harmless: a dead job is failed once.
func (q *Queue) moveToDead(ctx context.Context, w wireMessage, sentMS int64, receives int, receipt *string) error {
	w.SentAt, w.Receives = sentMS, receives
	body, err := json.Marshal(w)
	if err != nil {
		return err
	}
	if _, err := q.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &q.dlqURL,
		MessageBody: aws.String(string(body)), MessageGroupId: groupID(w.Group)}); err != nil {
		return q.translate(err, "move a dead message to the dead-letter queue of")
	}
	return q.delete(ctx, q.url, receipt)
}

// Extend sets the message's visibility timeout from now (rounded up to seconds, at
// most MaxVisibility; 0 hands it back). ENotFound when the receipt no longer holds the
// message: deleted, received again since, or visible again.
func (q *Queue) Extend(ctx context.Context, d *easel.Delivery, visibility time.Duration) error {
	url := q.url
	if d.Dead {
		url = q.dlqURL
	}
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          &url,
		ReceiptHandle:     &d.Receipt,
		VisibilityTimeout: seconds(visibility, 0, int32(MaxVisibility/time.Second)),
	})
	if err != nil {
		return q.translate(err, "change the visibility of a message in")
	}
	return nil
}

// Delete removes a received message. SQS succeeds for a message already deleted.
func (q *Queue) Delete(ctx context.Context, d *easel.Delivery) error {
	url := q.url
	if d.Dead {
		url = q.dlqURL
	}
	return q.delete(ctx, url, &d.Receipt)
}

func (q *Queue) delete(ctx context.Context, url string, receipt *string) error {
	if _, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: receipt}); err != nil {
		return q.translate(err, "delete a message from")
	}
	return nil
}

// Ping reads the queue's ARN: a call that needs only sqs:GetQueueAttributes, which
// Open needs anyway.
func (q *Queue) Ping(ctx context.Context) error {
	_, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &q.url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		return q.translate(err, "ping")
	}
	return nil
}
