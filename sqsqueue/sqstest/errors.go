package sqstest

import (
	"fmt"
	"net/http"
	"strconv"
)

// apiError is an SQS error as the AWS JSON 1.0 protocol carries it, with the query
// protocol's code in the x-amzn-query-error header (SQS is "query compatible": the SDK
// reports that code from ErrorCode, and maps __type to its typed errors).
type apiError struct {
	status  int
	typ     string // __type
	query   string // x-amzn-query-error code; "" for none
	message string
}

func (e *apiError) Error() string { return e.typ + ": " + e.message }

// Error kinds, from the service model (status, __type, query code).
var (
	errQueueDoesNotExist   = apiError{400, "com.amazonaws.sqs#QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", ""}
	errQueueNameExists     = apiError{400, "com.amazonaws.sqs#QueueNameExists", "QueueAlreadyExists", ""}
	errReceiptInvalid      = apiError{404, "com.amazonaws.sqs#ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", ""}
	errMessageNotInflight  = apiError{400, "com.amazonaws.sqs#MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", ""}
	errInvalidAttrName     = apiError{400, "com.amazonaws.sqs#InvalidAttributeName", "InvalidAttributeName", ""}
	errInvalidAttrValue    = apiError{400, "com.amazonaws.sqs#InvalidAttributeValue", "InvalidAttributeValue", ""}
	errInvalidContents     = apiError{400, "com.amazonaws.sqs#InvalidMessageContents", "InvalidMessageContents", ""}
	errUnsupported         = apiError{400, "com.amazonaws.sqs#UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", ""}
	errInvalidParameter    = apiError{400, "com.amazonaws.sqs#InvalidParameterValue", "InvalidParameterValue", ""}
	errMissingParameter    = apiError{400, "com.amazonaws.sqs#MissingParameter", "MissingParameter", ""}
	errInvalidAddress      = apiError{404, "com.amazonaws.sqs#InvalidAddress", "InvalidAddress", ""}
	errSerialization       = apiError{400, "com.amazon.coral.service#SerializationException", "", ""}
	errUnknownOperation    = apiError{400, "com.amazon.coral.service#UnknownOperationException", "", ""}
	errPurgeInProgress     = apiError{403, "com.amazonaws.sqs#PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", ""}
	errRequestThrottled    = apiError{403, "com.amazonaws.sqs#RequestThrottled", "RequestThrottled", ""}
	errOverLimit           = apiError{403, "com.amazonaws.sqs#OverLimit", "OverLimit", ""}
	errInternal            = apiError{500, "com.amazon.coral.service#InternalFailure", "InternalFailure", ""}
	errServiceUnavailable  = apiError{503, "com.amazon.coral.service#ServiceUnavailable", "ServiceUnavailable", ""}
	errAccessDeniedGeneric = apiError{403, "com.amazon.coral.service#AccessDeniedException", "AccessDenied", ""}
)

// with returns a copy of the kind with a message.
func (e apiError) with(format string, args ...any) *apiError {
	e.message = fmt.Sprintf(format, args...)
	return &e
}

// exceptions names the errors a Fault can inject, by their short names.
var exceptions = map[string]apiError{
	"QueueDoesNotExist":      errQueueDoesNotExist,
	"ReceiptHandleIsInvalid": errReceiptInvalid,
	"MessageNotInflight":     errMessageNotInflight,
	"RequestThrottled":       errRequestThrottled,
	"OverLimit":              errOverLimit,
	"InvalidParameterValue":  errInvalidParameter,
	"AccessDenied":           errAccessDeniedGeneric,
	"InternalFailure":        errInternal,
	"ServiceUnavailable":     errServiceUnavailable,
}

// writeError answers with SQS's JSON error shape.
func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", newRequestID())
	if e.query != "" {
		fault := "Sender"
		if e.status >= 500 {
			fault = "Receiver"
		}
		w.Header().Set("X-Amzn-Query-Error", e.query+";"+fault)
	}
	body := mustJSON(map[string]string{"__type": e.typ, "message": e.message})
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
