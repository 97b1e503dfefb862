package pngtext_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/easelhq/easel/pngtext"
)

func samplePNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 8, 4))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	img.Set(1, 1, color.NRGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// textChunks reads every tEXt chunk of a PNG by walking its chunks.
func textChunks(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := 8; i+12 <= len(b); {
		n := int(uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3]))
		typ := string(b[i+4 : i+8])
		data := b[i+8 : i+8+n]
		if typ == "tEXt" {
			k, v, _ := bytes.Cut(data, []byte{0})
			out[string(k)] = string(v)
		}
		i += 12 + n
	}
	return out
}

func TestInsert(t *testing.T) {
	orig := samplePNG(t)
	text := pngtext.Parameters("a red fox", "blur", [2]string{"Seed", "42"}, [2]string{"Model", "offline"})
	for _, spare := range []int{0, 4096} {
		src := make([]byte, len(orig), len(orig)+spare)
		copy(src, orig)
		got, err := pngtext.Insert(src, pngtext.Chunk("parameters", text))
		if err != nil {
			t.Fatalf("Insert(spare %d) error: %v", spare, err)
		}
		want, errDecode := png.Decode(bytes.NewReader(orig))
		img, err := png.Decode(bytes.NewReader(got))
		if err != nil || errDecode != nil {
			t.Fatalf("decode after Insert: %v / %v", err, errDecode)
		}
		if img.At(1, 1) != want.At(1, 1) || img.Bounds() != want.Bounds() {
			t.Errorf("pixels changed by Insert")
		}
		if p := textChunks(t, got)["parameters"]; p != text {
			t.Errorf("parameters = %q, want %q", p, text)
		}
	}
}

func TestInsertRejectsNonPNG(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("GIF89a........................................")} {
		if _, err := pngtext.Insert(in, pngtext.Chunk("k", "v")); err != pngtext.ErrNotPNG {
			t.Errorf("Insert(%q) error = %v, want ErrNotPNG", in, err)
		}
	}
}

func TestChunkLatin1(t *testing.T) {
	c := pngtext.Chunk("parameters", "café \x00 猫")
	if !bytes.Contains(c, []byte("caf\xe9  ?")) {
		t.Errorf("Chunk = %q, want Latin-1 text with NUL dropped and ? for others", c)
	}
}

func TestParameters(t *testing.T) {
	got := pngtext.Parameters("p", "n", [2]string{"Seed", "1"}, [2]string{"Size", "2x3"})
	want := "p\nNegative prompt: n\nSeed: 1, Size: 2x3"
	if got != want {
		t.Errorf("Parameters = %q, want %q", got, want)
	}
}
