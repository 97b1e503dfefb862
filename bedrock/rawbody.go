package bedrock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// maxAnswer bounds a model answer (four 1024x1024 images in base64 fit easily).
const maxAnswer = 64 << 20

type rawBodyKey struct{}

// readAnswer is a deserialize middleware that reads a successful answer's body itself,
// into one pooled buffer of the announced size (see bufpool.go), before the SDK's
// deserializer (which grows a buffer from 512 KiB by doubling: ~8 MB allocated for a
// 2 MB answer) sees it.
func (m *Model) readAnswer(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("EaselReadAnswer",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if err != nil {
				return out, md, err
			}
			resp, ok := out.RawResponse.(*smithyhttp.Response)
			if !ok || resp.StatusCode < 200 || resp.StatusCode > 299 {
				return out, md, err
			}
			body, err := readAll(&m.bufs, resp.Body, resp.ContentLength)
			resp.Body.Close()
			if err != nil {
				return out, md, fmt.Errorf("read model answer: %w", err)
			}
			resp.Body, resp.ContentLength = http.NoBody, 0
			md.Set(rawBodyKey{}, body)
			return out, md, nil
		}), middleware.After)
}

// readAll reads r into a buffer from pool with room for n bytes (its Content-Length;
// 3 MiB when unknown, grown as needed), bounded by maxAnswer.
func readAll(pool *bufPool, r io.Reader, n int64) (*answerBuf, error) {
	if n > maxAnswer {
		return nil, errors.New("answer too large")
	}
	size := n
	if size < 0 {
		size = 3 << 20
	}
	a := pool.get(int(size) + 1) // +1: EOF is seen without growing
	buf := a.b
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxAnswer {
				return nil, errors.New("answer too large")
			}
			buf = append(buf, 0)[:len(buf)]
		}
		k, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			a.b = buf
			return a, nil
		}
		if err != nil {
			a.b = buf
			a.free()
			return nil, err
		}
	}
}
