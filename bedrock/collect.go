package bedrock

import (
	"errors"
	"strings"

	"github.com/easelhq/easel"
)

// filterSide tells what a finish reason or message says about content filtering.
type filterSide int

const (
	notFiltered    filterSide = iota
	filteredPrompt            // the prompt (or an input image) was refused
	filteredOutput            // a generated image was withheld
)

// reasonSide classifies a non-empty finish reason.
func reasonSide(reason string) filterSide {
	r := strings.ToLower(reason)
	switch {
	case strings.Contains(r, "output"), r == "content_filtered":
		return filteredOutput
	case strings.Contains(r, "filter"):
		return filteredPrompt // "Filter reason: prompt", "Filter reason: input image"
	}
	return notFiltered // "Inference error", "ERROR", anything else
}

// messageSide classifies a Bedrock message ("This request has been blocked by our
// content filters.", "The generated image has been blocked by our content filters.").
func messageSide(msg string) filterSide {
	m := strings.ToLower(msg)
	if !strings.Contains(m, "content filter") && !strings.Contains(m, "blocked") &&
		!strings.Contains(m, "filtered") && !strings.Contains(m, "moderat") {
		return notFiltered
	}
	if strings.Contains(m, "generated image") || strings.Contains(m, "output") {
		return filteredOutput
	}
	return filteredPrompt
}

// contentPolicy is the EContentPolicy error for a filtered prompt or output.
func contentPolicy(prompt bool, cause error) *easel.Error {
	if prompt {
		return &easel.Error{Code: easel.EContentPolicy, Param: "prompt", Err: cause,
			Message: "The model's content filter blocked the prompt; rephrase it. Retrying the same prompt will not help."}
	}
	return &easel.Error{Code: easel.EContentPolicy, Err: cause,
		Message: "The model's content filter blocked the generated image. Retrying the same request will not help; change the prompt or the seed."}
}

// promptBlocked reports whether err is a content-policy refusal of the prompt itself
// (which every sibling call of the same prompt would meet too).
func promptBlocked(err error) bool {
	var e *easel.Error
	return errors.As(err, &e) && e.Code == easel.EContentPolicy && e.Param == "prompt"
}

// collect turns a parsed answer to a request for n images into a Generation.
func (m *Model) collect(a *answer, req *easel.GenerateRequest, n int, seed uint64) (*easel.Generation, error) {
	gen := &easel.Generation{Images: make([]easel.GeneratedImage, 0, len(a.slots))}
	var (
		prompt  bool   // the prompt was refused
		failure string // a non-filter finish reason
	)
	for _, s := range a.slots {
		if s.reason != "" {
			switch reasonSide(s.reason) {
			case filteredPrompt:
				prompt = true
			case filteredOutput:
				gen.Filtered++
			default:
				failure = s.reason
			}
			continue
		}
		if s.data == nil {
			failure = "an image slot without an image"
			continue
		}
		ct, w, h, err := inspectImage(s.data)
		if err != nil {
			m.log.Error("bedrock returned a broken image", "err", err, "bytes", len(s.data))
			return nil, easel.WrapError(easel.EModelError, err, "The model returned an image that could not be read.")
		}
		if req.Width != 0 && (w != req.Width || h != req.Height) {
			m.log.Warn("bedrock image size differs from the request", "want_w", req.Width, "want_h", req.Height, "w", w, "h", h)
		}
		img := easel.GeneratedImage{Data: s.data, ContentType: ct, Seed: seed, Width: w, Height: h}
		if s.hasSeed {
			img.Seed = s.seed
		}
		gen.Images = append(gen.Images, img)
	}
	// The Amazon family withholds filtered images and says so in "error".
	if missing := n - len(gen.Images) - gen.Filtered; a.errMsg != "" && missing > 0 {
		switch messageSide(a.errMsg) {
		case filteredPrompt:
			prompt = true
		case filteredOutput:
			gen.Filtered += missing
		default:
			failure = a.errMsg
		}
	}
	if len(gen.Images) > 0 {
		if failure != "" {
			gen.Failed = max(0, n-len(gen.Images)-gen.Filtered)
			m.log.Warn("bedrock returned fewer images than asked", "asked", n, "got", len(gen.Images), "reason", failure)
		}
		return gen, nil
	}
	switch {
	case prompt:
		return nil, contentPolicy(true, nil)
	case gen.Filtered > 0:
		return nil, contentPolicy(false, nil)
	case failure != "":
		m.log.Error("bedrock model failed", "reason", failure)
		return nil, easel.Errorf(easel.EModelError, "The model failed to produce an image (%s).", truncate(failure, 120))
	}
	return nil, easel.Errorf(easel.EModelError, "The model returned no image.")
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
