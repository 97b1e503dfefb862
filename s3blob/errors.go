package s3blob

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/easelhq/easel"
)

// throttleRetryAfter is the pause suggested to callers when S3 throttles: the SDK's
// retryer has already backed off and retried by the time an error reaches us.
const throttleRetryAfter = time.Second

// translate turns an SDK error into a domain error at the adapter's boundary, keeping
// the SDK error as the cause:
//
//	NoSuchKey, NotFound, bare 404            → ENotFound
//	SlowDown, throttling, 503                → ERateLimited (RetryAfter 1s)
//	NoSuchBucket, AccessDenied, anything else → EInternal (a deployment fault)
func (s *Store) translate(err error, op, key string) error {
	cause := fmt.Errorf("%s %q in bucket %q: %w", op, key, s.bucket, err)
	code, status := "", 0
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchKey" || code == "NotFound" || code == "" && status == http.StatusNotFound:
		return easel.WrapError(easel.ENotFound, cause, "The object does not exist.")
	case code == "NoSuchBucket":
		return easel.WrapError(easel.EInternal, cause, "S3 bucket %q does not exist", s.bucket)
	case code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || status == http.StatusForbidden:
		return easel.WrapError(easel.EInternal, cause, "S3 denied access to bucket %q: check the credentials and policy", s.bucket)
	case code == "SlowDown" || code == "Throttling" || code == "ThrottlingException" ||
		code == "RequestLimitExceeded" || code == "TooManyRequests" || status == http.StatusServiceUnavailable:
		e := easel.WrapError(easel.ERateLimited, cause, "Storage is busy; try again shortly.")
		e.RetryAfter = throttleRetryAfter
		return e
	}
	return cause
}

// preconditionFailed reports a conditional PUT refused because the object exists (412
// PreconditionFailed; 409 ConditionalRequestConflict when another conditional write to
// the key is in progress).
func preconditionFailed(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	var respErr *awshttp.ResponseError
	return errors.As(err, &respErr) &&
		(respErr.HTTPStatusCode() == http.StatusPreconditionFailed || respErr.HTTPStatusCode() == http.StatusConflict)
}
