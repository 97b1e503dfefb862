// Package imagecheck decodes input images (PNG, JPEG, WebP) within stated limits, and
// answers the one question about an input that its header cannot: whether any pixel
// is transparent (an inpaint or erase without a mask takes its mask from them).
//
// Every decode starts with easel.InspectImage: the format is sniffed from the bytes
// and the header's size is checked against the caller's pixel limit before a single
// pixel is decoded, so a decompression bomb costs a microsecond, not gigabytes.
// Decoding a w×h image holds about 4·w·h bytes (8·w·h for 16-bit PNGs).
package imagecheck

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/webp"

	"github.com/easelhq/easel"
)

// ErrTooLarge is returned for an image whose header claims more pixels than allowed.
var ErrTooLarge = errors.New("image has more pixels than allowed")

// Decode decodes data, a PNG, JPEG or WebP image of at most maxPixels pixels, and
// returns it with its header information. The header is checked first: an image
// over the limit is refused (ErrTooLarge) without decoding.
func Decode(data []byte, maxPixels int) (image.Image, easel.ImageInfo, error) {
	info, err := easel.InspectImage(data)
	if err != nil {
		return nil, info, err
	}
	if maxPixels <= 0 || info.Width*info.Height > maxPixels {
		return nil, info, fmt.Errorf("%dx%d %s: %w (%d)", info.Width, info.Height, info.Format, ErrTooLarge, maxPixels)
	}
	r := bytes.NewReader(data)
	var img image.Image
	switch info.Format {
	case "png":
		img, err = png.Decode(r)
	case "jpeg":
		img, err = jpeg.Decode(r)
	case "webp":
		img, err = webp.Decode(r)
	}
	if err != nil {
		return nil, info, fmt.Errorf("decode %s: %w", info.Format, err)
	}
	if b := img.Bounds(); b.Dx() != info.Width || b.Dy() != info.Height {
		return nil, info, fmt.Errorf("decode %s: the image is %dx%d, its header says %dx%d", info.Format, b.Dx(), b.Dy(), info.Width, info.Height)
	}
	return img, info, nil
}

// Transparent reports whether the image in data has at least one pixel that is not
// fully opaque. An image whose header declares no alpha channel answers false
// without decoding; otherwise the image is decoded (within maxPixels) and scanned,
// stopping at the first transparent pixel.
func Transparent(data []byte, maxPixels int) (bool, error) {
	info, err := easel.InspectImage(data)
	if err != nil {
		return false, err
	}
	if !info.Alpha {
		return false, nil
	}
	img, _, err := Decode(data, maxPixels)
	if err != nil {
		return false, err
	}
	return HasTransparency(img), nil
}

// HasTransparency reports whether any pixel of img is not fully opaque.
func HasTransparency(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		// The image types of the standard library and x/image answer this by scanning
		// their own pixel layout, without per-pixel interface calls.
		return !o.Opaque()
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0xffff {
				return true
			}
		}
	}
	return false
}
