package bedrock

import "github.com/easelhq/easel"

// DecodeResponse exposes the response decoder to the external tests and benchmark:
// it parses body in place and returns, per image slot, the decoded image (nil when
// none), its seed and its finish reason, plus the Amazon family's "error".
func DecodeResponse(body []byte) (images [][]byte, seeds []uint64, reasons []string, errMsg string, err error) {
	a, err := decodeResponse(body)
	if err != nil {
		return nil, nil, nil, "", err
	}
	for _, s := range a.slots {
		images = append(images, s.data)
		seeds = append(seeds, s.seed)
		reasons = append(reasons, s.reason)
	}
	return images, seeds, reasons, a.errMsg, nil
}

// InspectImage exposes the image check.
func InspectImage(data []byte) (string, int, int, error) { return inspectImage(data) }

// CollectForTest runs the answer-to-Generation step of m on a raw body.
func CollectForTest(m *Model, body []byte, req *easel.GenerateRequest, n int, seed uint64) (*easel.Generation, error) {
	a, err := decodeResponse(body)
	if err != nil {
		return nil, err
	}
	return m.collect(a, req, n, seed)
}

// ImageServicesSpecForTest is the spec of the ImageServices model.
func ImageServicesSpecForTest() *easel.ModelSpec {
	s := imageServicesSpec()
	return &s
}

// EditBodyForTest builds the InvokeModel body of a normalized edit request.
func EditBodyForTest(r *easel.EditRequest, seed uint64) []byte {
	spec := imageServicesSpec()
	op, _ := spec.Operation(r.Operation)
	return editBody(r, op, seed)
}
