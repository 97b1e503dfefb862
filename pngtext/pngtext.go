// Package pngtext adds text metadata to PNG files without re-encoding them: a tEXt chunk
// is spliced in right after the IHDR chunk, and every other byte stays as the model made
// it. Easel writes the generation settings under the keyword "parameters", the
// convention AUTOMATIC1111 and most image tools read.
package pngtext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
)

var signature = []byte("\x89PNG\r\n\x1a\n")

// ihdrEnd is where the IHDR chunk ends: signature (8) + length (4) + type (4) + data (13) + CRC (4).
const ihdrEnd = 8 + 4 + 4 + 13 + 4

// ErrNotPNG is returned for data that does not start with a PNG signature and IHDR chunk.
var ErrNotPNG = errors.New("pngtext: not a PNG file")

// Chunk returns an encoded tEXt chunk. tEXt holds Latin-1; characters outside it are
// replaced by '?', and NUL bytes (the keyword separator) are removed from text.
func Chunk(keyword, text string) []byte {
	data := make([]byte, 0, len(keyword)+1+len(text))
	data = appendLatin1(data, keyword)
	data = append(data, 0)
	data = appendLatin1(data, text)
	out := make([]byte, 0, 12+len(data))
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	start := len(out)
	out = append(out, "tEXt"...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}

func appendLatin1(b []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r == 0:
		case r < 0x100:
			b = append(b, byte(r))
		default:
			b = append(b, '?')
		}
	}
	return b
}

// Insert returns png with chunk inserted after IHDR. When png has spare capacity for the
// chunk it is moved in place and no memory is allocated; otherwise a new slice is made.
func Insert(png, chunk []byte) ([]byte, error) {
	if len(png) < ihdrEnd || !bytes.Equal(png[:8], signature) || string(png[12:16]) != "IHDR" {
		return nil, ErrNotPNG
	}
	n := len(png)
	if cap(png)-n >= len(chunk) {
		png = png[:n+len(chunk)]
		copy(png[ihdrEnd+len(chunk):], png[ihdrEnd:n])
		copy(png[ihdrEnd:], chunk)
		return png, nil
	}
	out := make([]byte, n+len(chunk))
	copy(out, png[:ihdrEnd])
	copy(out[ihdrEnd:], chunk)
	copy(out[ihdrEnd+len(chunk):], png[ihdrEnd:])
	return out, nil
}

// Parameters formats generation settings the way AUTOMATIC1111 does: the prompt, then
// "Negative prompt: ...", then a line of "Key: value" pairs.
func Parameters(prompt, negative string, pairs ...[2]string) string {
	var b strings.Builder
	b.WriteString(prompt)
	if negative != "" {
		b.WriteString("\nNegative prompt: ")
		b.WriteString(negative)
	}
	for i, p := range pairs {
		if i == 0 {
			b.WriteString("\n")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(p[0])
		b.WriteString(": ")
		b.WriteString(p[1])
	}
	return b.String()
}
