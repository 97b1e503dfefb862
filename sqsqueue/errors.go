package sqsqueue

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel"
)

// throttleRetryAfter is the pause suggested to callers when SQS throttles: the SDK's
// retryer has already backed off and retried by the time an error reaches us.
const throttleRetryAfter = time.Second

// translate turns an SDK error into a domain error at the adapter's boundary, keeping
// the SDK error as the cause:
//
//	ReceiptHandleIsInvalid, MessageNotInflight,
//	InvalidParameterValue about a ReceiptHandle        → ENotFound (the receipt no longer holds the message)
//	RequestThrottled, OverLimit, throttling, 503        → ERateLimited (RetryAfter 1s)
//	QueueDoesNotExist, access denied, KMS, anything else → EInternal (a deployment fault)
func (q *Queue) translate(err error, op string) error {
	cause := fmt.Errorf("%s SQS queue %q: %w", op, q.name, err)
	code := ""
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	var (
		invalidReceipt *types.ReceiptHandleIsInvalid
		notInflight    *types.MessageNotInflight
		missing        *types.QueueDoesNotExist
		throttled      *types.RequestThrottled
		overLimit      *types.OverLimit
	)
	switch {
	case errors.As(err, &invalidReceipt) || errors.As(err, &notInflight) ||
		code == "InvalidParameterValue" && strings.Contains(apiErr.ErrorMessage(), "ReceiptHandle"):
		return easel.WrapError(easel.ENotFound, cause, "The queue message is gone or was received again.")
	case errors.As(err, &missing):
		return easel.WrapError(easel.EInternal, cause, "SQS queue %q does not exist", q.name)
	case errors.As(err, &throttled) || errors.As(err, &overLimit) || code == "ThrottlingException" ||
		code == "Throttling" || status == http.StatusServiceUnavailable:
		e := easel.WrapError(easel.ERateLimited, cause, "The job queue is busy; try again shortly.")
		e.RetryAfter = throttleRetryAfter
		return e
	}
	return cause
}
