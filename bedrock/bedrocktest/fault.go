package bedrocktest

import (
	"strings"
	"time"
)

// Fault makes the fake misbehave the way Bedrock does. The zero Fault is none.
type Fault struct {
	// Model limits the fault to calls to this model id (a base id such as
	// "stability.stable-image-core-v1:1" also matches its inference profiles); "": all.
	Model string
	// Prompt limits the fault to calls whose prompt contains this text; "": all.
	Prompt string
	// Times is how many matching calls the fault affects before it clears itself;
	// 0: every matching call until SetFault is called again.
	Times int

	// Delay holds each affected call this long before it is answered (a slow model;
	// a client timeout shorter than Delay sees a timeout).
	Delay time.Duration
	// Exception answers affected calls with this Bedrock exception, e.g.
	// "ThrottlingException" (429), "ModelTimeoutException" (408),
	// "ServiceQuotaExceededException" (400), "AccessDeniedException" (403); see Status.
	Exception string
	// Message is the exception's message; "": a generic one.
	Message string
	// Status overrides the exception's HTTP status.
	Status int

	// FilterPrompt refuses the prompt as Bedrock's content filter does: 400
	// ValidationException "This request has been blocked by our content filters."
	FilterPrompt bool
	// FilterPromptInBody refuses the prompt the way Stability models also do: 200
	// with finish_reasons ["Filter reason: prompt"] and no image (other families: as
	// FilterPrompt).
	FilterPromptInBody bool
	// FilterOutput withholds this many images of each affected call: Stability
	// answers finish_reasons ["Filter reason: output image"] without the image; the
	// Amazon family answers 200 with fewer images and an "error" (400 when none is
	// left); SDXL marks the artifact CONTENT_FILTERED.
	FilterOutput int
	// InferenceError makes Stability models answer finish_reasons ["Inference error"].
	InferenceError bool
	// FilterInputImage makes Stability models refuse an input image: finish_reasons
	// ["Filter reason: input image"] and no image.
	FilterInputImage bool
}

// exceptionStatus is the HTTP status Bedrock answers each exception with.
func exceptionStatus(exception string) int {
	switch exception {
	case "ValidationException", "ServiceQuotaExceededException", "ConflictException":
		return 400
	case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException":
		return 403
	case "ResourceNotFoundException":
		return 404
	case "ModelTimeoutException":
		return 408
	case "ModelErrorException", "ModelStreamErrorException":
		return 424
	case "ThrottlingException", "ModelNotReadyException":
		return 429
	case "InternalServerException":
		return 500
	case "ServiceUnavailableException":
		return 503
	}
	return 400
}

// faultFor returns the fault that applies to a call, counting it against Times.
func (h *Handler) faultFor(modelID, prompt string) Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	f := h.fault
	if f == (Fault{}) {
		return Fault{}
	}
	if f.Model != "" && f.Model != modelID && f.Model != baseID(modelID) {
		return Fault{}
	}
	if f.Prompt != "" && !strings.Contains(prompt, f.Prompt) {
		return Fault{}
	}
	if f.Times > 0 {
		h.faultLeft--
		if h.faultLeft <= 0 {
			h.fault = Fault{}
		}
	}
	return f
}
