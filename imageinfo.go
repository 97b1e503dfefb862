package easel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image/jpeg"
)

// ImageInfo is what an image's header says about it, read without decoding a pixel.
type ImageInfo struct {
	Format string // "png", "jpeg" or "webp"
	Width  int
	Height int
	// Alpha reports that the format declares an alpha channel or a transparent colour
	// (PNG colour types 4 and 6 or a tRNS chunk; WebP's alpha flag). Whether any pixel
	// is actually transparent takes a decode: see package imagecheck.
	Alpha bool
}

// ContentType is the media type of the image's format.
func (i ImageInfo) ContentType() string { return "image/" + i.Format }

// Pixels is Width × Height.
func (i ImageInfo) Pixels() int { return i.Width * i.Height }

// ErrUnknownFormat is returned by InspectImage for data that is neither PNG, JPEG nor
// WebP.
var ErrUnknownFormat = errors.New("not a PNG, JPEG or WebP image")

// maxHeaderSide bounds what a header may claim before any other check: larger sides
// are damaged or hostile headers, and int arithmetic on them stays safe.
const maxHeaderSide = 1 << 24

// InspectImage sniffs the format of data from its first bytes (never from a name) and
// reads its size and alpha from the header. It decodes no pixel and allocates almost
// nothing, so a header that claims 100,000 × 100,000 pixels (a decompression bomb)
// costs a microsecond: limits are checked on the result before anything decodes.
// It returns ErrUnknownFormat for other data and a descriptive error for a damaged
// header.
func InspectImage(data []byte) (ImageInfo, error) {
	var (
		info ImageInfo
		err  error
	)
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		info, err = inspectPNG(data)
	case len(data) >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff:
		info, err = inspectJPEG(data)
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		info, err = inspectWebP(data)
	default:
		return ImageInfo{}, ErrUnknownFormat
	}
	if err != nil {
		return ImageInfo{}, err
	}
	if info.Width <= 0 || info.Height <= 0 || info.Width > maxHeaderSide || info.Height > maxHeaderSide {
		return ImageInfo{}, fmt.Errorf("%s header: bad size %dx%d", info.Format, info.Width, info.Height)
	}
	return info, nil
}

// inspectPNG reads IHDR, then walks the chunk headers up to the first IDAT looking
// for tRNS (a transparent colour or palette alphas).
func inspectPNG(data []byte) (ImageInfo, error) {
	const sig = 8
	if len(data) < sig+8+13 || string(data[sig+4:sig+8]) != "IHDR" || binary.BigEndian.Uint32(data[sig:]) != 13 {
		return ImageInfo{}, errors.New("png header: no IHDR chunk")
	}
	ihdr := data[sig+8 : sig+8+13]
	w, h := binary.BigEndian.Uint32(ihdr[0:]), binary.BigEndian.Uint32(ihdr[4:])
	depth, colour := ihdr[8], ihdr[9]
	info := ImageInfo{Format: "png", Width: int(min(w, maxHeaderSide+1)), Height: int(min(h, maxHeaderSide+1))}
	if !validPNGDepth(colour, depth) {
		return ImageInfo{}, fmt.Errorf("png header: bad colour type %d with bit depth %d", colour, depth)
	}
	info.Alpha = colour == 4 || colour == 6
	for off := sig + 8 + 13 + 4; off+8 <= len(data) && !info.Alpha; {
		n, typ := binary.BigEndian.Uint32(data[off:]), string(data[off+4:off+8])
		if typ == "IDAT" || typ == "IEND" {
			break
		}
		info.Alpha = typ == "tRNS"
		if uint64(n) > uint64(len(data)) {
			break
		}
		off += 12 + int(n)
	}
	return info, nil
}

// validPNGDepth reports whether a PNG colour type allows a bit depth.
func validPNGDepth(colour, depth byte) bool {
	switch colour {
	case 0:
		return depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16
	case 3:
		return depth == 1 || depth == 2 || depth == 4 || depth == 8
	case 2, 4, 6:
		return depth == 8 || depth == 16
	}
	return false
}

// inspectJPEG reads the frame header (SOFn) with the standard library, which stops
// there.
func inspectJPEG(data []byte) (ImageInfo, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return ImageInfo{}, fmt.Errorf("jpeg header: %w", err)
	}
	return ImageInfo{Format: "jpeg", Width: cfg.Width, Height: cfg.Height}, nil
}

// inspectWebP reads the first chunk of a WebP file: VP8 (lossy), VP8L (lossless) or
// VP8X (extended, with the canvas size and the alpha and animation flags).
func inspectWebP(data []byte) (ImageInfo, error) {
	if len(data) < 20 {
		return ImageInfo{}, errors.New("webp header: truncated")
	}
	info := ImageInfo{Format: "webp"}
	chunk, body := string(data[12:16]), data[20:]
	switch chunk {
	case "VP8 ":
		// Frame tag (3 bytes, key frame when bit 0 is clear), start code 9d 01 2a,
		// then 14-bit width and height, each with 2 bits of scale.
		if len(body) < 10 || body[0]&1 != 0 || body[3] != 0x9d || body[4] != 0x01 || body[5] != 0x2a {
			return ImageInfo{}, errors.New("webp header: bad VP8 key frame")
		}
		info.Width = int(binary.LittleEndian.Uint16(body[6:]) & 0x3fff)
		info.Height = int(binary.LittleEndian.Uint16(body[8:]) & 0x3fff)
	case "VP8L":
		if len(body) < 5 || body[0] != 0x2f {
			return ImageInfo{}, errors.New("webp header: bad VP8L signature")
		}
		bits := binary.LittleEndian.Uint32(body[1:])
		if bits>>29 != 0 {
			return ImageInfo{}, errors.New("webp header: unknown VP8L version")
		}
		info.Width = int(bits&0x3fff) + 1
		info.Height = int(bits>>14&0x3fff) + 1
		info.Alpha = bits>>28&1 == 1
	case "VP8X":
		if len(body) < 10 {
			return ImageInfo{}, errors.New("webp header: truncated VP8X")
		}
		if body[0]&0x02 != 0 {
			return ImageInfo{}, errors.New("webp header: animated WebP is not supported")
		}
		info.Alpha = body[0]&0x10 != 0
		info.Width = int(uint32(body[4])|uint32(body[5])<<8|uint32(body[6])<<16) + 1
		info.Height = int(uint32(body[7])|uint32(body[8])<<8|uint32(body[9])<<16) + 1
	default:
		return ImageInfo{}, fmt.Errorf("webp header: unknown chunk %q", chunk)
	}
	return info, nil
}
