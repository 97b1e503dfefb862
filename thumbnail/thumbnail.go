// Package thumbnail makes small JPEG previews of generated images.
package thumbnail

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	_ "image/png" // decoders for image.Decode
	"io"

	"golang.org/x/image/draw"
)

// ContentType is the type of every thumbnail.
const ContentType = "image/jpeg"

// MaxSide is the longest side of a thumbnail in pixels.
const MaxSide = 256

// MaxSourcePixels bounds the images Make will decode, so a hostile input cannot make it
// allocate without limit (4096x4096 RGBA is 64 MiB).
const MaxSourcePixels = 4096 * 4096

// Make decodes a PNG or JPEG image and returns a JPEG whose longest side is at most
// MaxSide pixels.
func Make(src []byte) ([]byte, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("thumbnail: %w", err)
	}
	if cfg.Width*cfg.Height > MaxSourcePixels || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("thumbnail: source %dx%d is too large", cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("thumbnail: %w", err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Encode scales img to fit MaxSide and writes it as JPEG.
func Encode(w io.Writer, img image.Image) error {
	b := img.Bounds()
	tw, th := Fit(b.Dx(), b.Dy())
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	if err := jpeg.Encode(w, dst, &jpeg.Options{Quality: 82}); err != nil {
		return fmt.Errorf("thumbnail: encode: %w", err)
	}
	return nil
}

// Fit returns the thumbnail size of a w×h image: the longest side MaxSide (never
// enlarged), the aspect ratio kept, each side at least 1.
func Fit(w, h int) (int, int) {
	if w <= MaxSide && h <= MaxSide {
		return w, h
	}
	if w >= h {
		return MaxSide, max(1, h*MaxSide/w)
	}
	return max(1, w*MaxSide/h), MaxSide
}
