// Package solidwebp writes lossless WebP (VP8L) images of one colour, of any size, in
// a few dozen bytes. Go has no WebP encoder; tests and the Bedrock fake use this to
// produce real, decodable WebP files of the sizes they need.
package solidwebp

import (
	"encoding/binary"
	"image/color"
)

// MaxSide is the largest side VP8L can describe.
const MaxSide = 16384

// Encode returns a w×h WebP image filled with c. Sides must be 1..MaxSide.
//
// Every prefix code of the bitstream is a "simple code" with a single symbol, which
// the decoder reads with zero bits: the pixels cost nothing, whatever the size.
func Encode(w, h int, c color.NRGBA) []byte {
	var bw bitWriter
	bw.put(0x2f, 8) // VP8L signature
	bw.put(uint32(w-1), 14)
	bw.put(uint32(h-1), 14)
	alpha := uint32(0)
	if c.A != 0xff {
		alpha = 1
	}
	bw.put(alpha, 1)
	bw.put(0, 3) // version
	bw.put(0, 1) // no transform
	bw.put(0, 1) // no colour cache
	bw.put(0, 1) // no meta prefix codes
	// Prefix codes in order: green (with length codes), red, blue, alpha, distance.
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} {
		bw.put(1, 1) // simple code
		bw.put(0, 1) // one symbol
		bw.put(1, 1) // an 8-bit symbol
		bw.put(uint32(sym), 8)
	}
	body := bw.bytes()
	out := make([]byte, 0, 20+len(body)+1)
	out = append(out, "RIFF"...)
	size := 4 + 8 + len(body) + len(body)%2
	out = binary.LittleEndian.AppendUint32(out, uint32(size))
	out = append(out, "WEBPVP8L"...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	out = append(out, body...)
	if len(body)%2 == 1 {
		out = append(out, 0) // chunks are padded to an even size
	}
	return out
}

// bitWriter writes bits least significant first, as VP8L reads them.
type bitWriter struct {
	buf   []byte
	acc   uint64
	nbits uint
}

func (b *bitWriter) put(v uint32, n uint) {
	b.acc |= uint64(v&(1<<n-1)) << b.nbits
	b.nbits += n
	for b.nbits >= 8 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc >>= 8
		b.nbits -= 8
	}
}

func (b *bitWriter) bytes() []byte {
	if b.nbits > 0 {
		b.buf = append(b.buf, byte(b.acc))
		b.acc, b.nbits = 0, 0
	}
	return b.buf
}
