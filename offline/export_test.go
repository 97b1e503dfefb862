package offline

import (
	"github.com/easelhq/easel"
	"github.com/easelhq/easel/imagecheck"
)

// RoundTripForTest decodes an input image the way Edit does and encodes it again as
// PNG: the fixed cost every edit pays around its pixel work.
func RoundTripForTest(data []byte) ([]byte, error) {
	img, _, err := imagecheck.Decode(data, easel.EditMaxPixels)
	if err != nil {
		return nil, err
	}
	c, _ := fromImage(img)
	return encodePNG(c)
}
