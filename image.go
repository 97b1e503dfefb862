package easel

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"strings"
	"time"
)

// ImageStatus is the life stage of an image record.
type ImageStatus string

const (
	// StatusPending: the record exists, its object may not. Never shown to users;
	// swept when older than the sweep window.
	StatusPending ImageStatus = "pending"
	// StatusReady: the object (and thumbnail, if ThumbKey is set) exist.
	StatusReady ImageStatus = "ready"
)

// Image is the metadata record of one generated image.
type Image struct {
	ID             string      `json:"id"`
	UserID         string      `json:"user_id"`
	Status         ImageStatus `json:"status"`
	Model          string      `json:"model"`
	Prompt         string      `json:"prompt"`
	NegativePrompt string      `json:"negative_prompt,omitempty"`
	Width          int         `json:"width"`
	Height         int         `json:"height"`
	Seed           uint64      `json:"seed"`
	CFGScale       *float64    `json:"cfg_scale,omitempty"`
	Style          string      `json:"style,omitempty"`
	Quality        string      `json:"quality,omitempty"`
	AspectRatio    string      `json:"aspect_ratio,omitempty"`
	ContentType    string      `json:"content_type"`
	Bytes          int64       `json:"bytes"`
	SHA256         string      `json:"sha256"` // hex
	Key            string      `json:"key"`    // object key of the image
	ThumbKey       string      `json:"thumb_key,omitempty"`
	CreatedAt      time.Time   `json:"created_at"`

	// Lineage of an edit (all empty for a generated image). Operation is the edit
	// operation that made the image, OpUpload for an image the caller sent as an edit's
	// input, or OpMask for a mask the caller sent. SourceImageID, StyleImageID and
	// MaskImageID are the inputs (images of the same user; they may have been deleted
	// since). OperationFields is the JSON object of the operation's fields as the model
	// was called with them (defaults filled in), without the images and prompts.
	Operation       string          `json:"operation,omitempty"`
	SourceImageID   string          `json:"source_image_id,omitempty"`
	StyleImageID    string          `json:"style_image_id,omitempty"`
	MaskImageID     string          `json:"mask_image_id,omitempty"`
	OperationFields json.RawMessage `json:"operation_fields,omitempty"`
}

// Operations of images that no model made: the inputs of edits.
const (
	// OpUpload marks an image the caller sent as an edit's source or style image.
	OpUpload = "upload"
	// OpMask marks a mask the caller sent with an edit.
	OpMask = "mask"
)

// PageCursor marks a position in a user's newest-first gallery: the last image of the
// previous page. It is the same for every Catalog adapter, so the HTTP layer can seal
// it (sign it and bind it to the user) without knowing the backend.
type PageCursor struct {
	CreatedAt time.Time
	ID        string
}

// ListOptions selects a page of a user's gallery.
type ListOptions struct {
	Limit int         // 1..MaxPageSize
	After *PageCursor // nil: from the newest
}

// MaxPageSize bounds ListOptions.Limit.
const MaxPageSize = 100

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a new random identifier with 130 bits of entropy: 26 lowercase
// base32 characters. Ids and object keys are made from these, never from user text.
func NewID() string {
	var b [17]byte // 136 bits read, 130 used by 26 base32 characters
	_, _ = rand.Read(b[:])
	return strings.ToLower(idEncoding.EncodeToString(b[:])[:26])
}

// ValidID reports whether s has the shape of an id made by NewID. Handlers check it
// before touching storage, so odd path input never reaches a backend.
func ValidID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// ImageKey returns the object key of an image with the given id and content type.
// Keys are flat ("<id>.png", "<id>.thumb.jpg") under the store's own prefix.
func ImageKey(id, contentType string) string {
	return id + extension(contentType)
}

// ThumbKey returns the object key of an image's thumbnail.
func ThumbKey(id, contentType string) string {
	return id + ".thumb" + extension(contentType)
}

// IDFromKey returns the image id an object key belongs to, or false.
func IDFromKey(key string) (string, bool) {
	if len(key) < 26 || !ValidID(key[:26]) {
		return "", false
	}
	rest := key[26:]
	rest = strings.TrimPrefix(rest, ".thumb")
	if extensionType(rest) == "" {
		return "", false
	}
	return key[:26], true
}

func extension(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	default:
		return ".png"
	}
}

func extensionType(ext string) string {
	switch ext {
	case ".png":
		return "image/png"
	case ".jpg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	}
	return ""
}

// ContentTypeOfKey returns the content type an object key's extension implies.
func ContentTypeOfKey(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return extensionType(key[i:])
	}
	return ""
}
