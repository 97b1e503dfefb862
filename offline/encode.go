package offline

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"image"
	"image/jpeg"
	"sync"
)

// encodePNG writes the canvas as an 8-bit RGB PNG.
//
// It is image/png's job done faster for this one case. image/png tries all five row
// filters on every row and converts pixels through the image.Image interface; here each
// row gets the better of the Sub and Up filters (what gradients and flat areas compress
// best with), judged on a quarter of its bytes, straight from the RGB buffer. Bands of
// rows are deflated at BestSpeed in parallel and joined into one zlib stream. The
// bands depend only on the height, so the bytes are the same on any machine.
func encodePNG(c *canvas) ([]byte, error) { return encodePixels(raster{c.w, c.h, 3, c.pix}) }

// encodePNGAlpha writes the canvas with an alpha plane as an 8-bit RGBA PNG.
func encodePNGAlpha(c *canvas, alpha []uint8) ([]byte, error) {
	pix := make([]uint8, 4*c.w*c.h)
	for i, a := range alpha {
		pix[4*i], pix[4*i+1], pix[4*i+2], pix[4*i+3] = c.pix[3*i], c.pix[3*i+1], c.pix[3*i+2], a
	}
	return encodePixels(raster{c.w, c.h, 4, pix})
}

// raster is interleaved 8-bit pixels: bpp 3 (RGB) or 4 (RGBA).
type raster struct {
	w, h, bpp int
	pix       []uint8
}

func encodePixels(c raster) ([]byte, error) {
	bands := 1
	if c.h >= 256 && c.w*c.h >= 1<<17 {
		bands = 4
	}
	parts := make([]pngBand, bands)
	var wg sync.WaitGroup
	for k := range parts {
		y0, y1 := c.h*k/bands, c.h*(k+1)/bands
		wg.Go(func() { parts[k] = deflateRows(c, y0, y1, k == bands-1) })
	}
	wg.Wait()

	size := 0
	for _, p := range parts {
		if p.err != nil {
			return nil, p.err
		}
		size += len(p.data)
	}
	idat := make([]byte, 0, 2+size+4)
	idat = append(idat, 0x78, 0x01) // zlib header: deflate, 32 KiB window, fastest
	sum := uint32(1)
	for _, p := range parts {
		idat = append(idat, p.data...)
		sum = adler32Combine(sum, p.adler, p.n)
	}
	idat = binary.BigEndian.AppendUint32(idat, sum)

	var out bytes.Buffer
	out.Grow(len(idat) + 64)
	out.WriteString("\x89PNG\r\n\x1a\n")
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(c.w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(c.h))
	ihdr[8], ihdr[9] = 8, 2 // 8 bits per sample, truecolour
	if c.bpp == 4 {
		ihdr[9] = 6 // truecolour with alpha
	}
	writeChunk(&out, "IHDR", ihdr[:])
	writeChunk(&out, "IDAT", idat)
	writeChunk(&out, "IEND", nil)
	return out.Bytes(), nil
}

// pngBand is one band of rows, filtered and deflated.
type pngBand struct {
	data  []byte // raw deflate; ends with a sync flush, or a final block for the last band
	adler uint32 // Adler-32 of the filtered bytes
	n     int64  // how many filtered bytes
	err   error
}

// deflateRows filters and deflates rows y0..y1-1; only the last band ends the stream.
func deflateRows(c raster, y0, y1 int, last bool) pngBand {
	var buf bytes.Buffer
	buf.Grow((y1 - y0) * c.w / 2)
	fw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		return pngBand{err: fmt.Errorf("png deflate: %w", err)}
	}
	sum := adler32.New()
	stride, bpp := c.bpp*c.w, c.bpp
	row := make([]byte, 1+stride)
	prev := make([]byte, stride)
	if y0 > 0 {
		prev = c.pix[(y0-1)*stride : y0*stride]
	}
	for y := y0; y < y1; y++ {
		cur := c.pix[y*stride : (y+1)*stride]
		// Estimate each filter's cost (the sum of |filtered byte|) on a sample of the
		// row, then filter the whole row once.
		su, ss := 0, 0
		for i := bpp; i < len(cur); i += 4 {
			su += absByte(cur[i] - prev[i])
			ss += absByte(cur[i] - cur[i-bpp])
		}
		out := row[1:]
		if ss < su {
			row[0] = 1 // Sub
			copy(out[:bpp], cur[:bpp])
			for i := bpp; i < len(cur); i++ {
				out[i] = cur[i] - cur[i-bpp]
			}
		} else {
			row[0] = 2 // Up
			for i := range cur {
				out[i] = cur[i] - prev[i]
			}
		}
		sum.Write(row)
		if _, err := fw.Write(row); err != nil {
			return pngBand{err: fmt.Errorf("png deflate: %w", err)}
		}
		prev = cur
	}
	if last {
		err = fw.Close()
	} else {
		err = fw.Flush() // byte-aligned, not final: the next band's blocks follow
	}
	if err != nil {
		return pngBand{err: fmt.Errorf("png deflate: %w", err)}
	}
	return pngBand{data: buf.Bytes(), adler: sum.Sum32(), n: int64(y1-y0) * int64(1+stride)}
}

// adler32Combine returns the Adler-32 of two byte strings joined, from their
// checksums and the second one's length (zlib's adler32_combine).
func adler32Combine(a1, a2 uint32, len2 int64) uint32 {
	const base = 65521
	rem := uint64(len2 % base)
	s1 := uint64(a1 & 0xffff)
	s2 := rem * s1 % base
	s1 += uint64(a2&0xffff) + base - 1
	s2 += uint64(a1>>16) + uint64(a2>>16) + base - rem
	s1 %= base
	s2 %= base
	return uint32(s2<<16 | s1)
}

// absByte is |int8(b)|, the filter heuristic's cost of a filtered byte.
func absByte(b byte) int {
	v := int(int8(b))
	if v < 0 {
		return -v
	}
	return v
}

func writeChunk(out *bytes.Buffer, typ string, data []byte) {
	var head [8]byte
	binary.BigEndian.PutUint32(head[:4], uint32(len(data)))
	copy(head[4:], typ)
	out.Write(head[:])
	out.Write(data)
	crc := crc32.NewIEEE()
	crc.Write(head[4:])
	crc.Write(data)
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	out.Write(sum[:])
}

// jpegQuality is the JPEG quality: high enough that flat colours show no blocks.
const jpegQuality = 90

// encodeJPEG writes the canvas as a JPEG.
func encodeJPEG(c *canvas) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, c.w, c.h))
	for i, j := 0, 0; i < len(c.pix); i, j = i+3, j+4 {
		img.Pix[j], img.Pix[j+1], img.Pix[j+2], img.Pix[j+3] = c.pix[i], c.pix[i+1], c.pix[i+2], 255
	}
	var out bytes.Buffer
	out.Grow(c.w * c.h / 6)
	if err := jpeg.Encode(&out, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return nil, fmt.Errorf("jpeg encode: %w", err)
	}
	return out.Bytes(), nil
}
