package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/easelhq/easel"
)

// ImageView is an image as the API, webhooks and published events show it.
type ImageView struct {
	ID             string    `json:"id"`
	URL            string    `json:"url"`
	ThumbnailURL   *string   `json:"thumbnail_url"`
	Width          int       `json:"width"`
	Height         int       `json:"height"`
	Seed           uint64    `json:"seed"`
	Model          string    `json:"model"`
	Prompt         string    `json:"prompt"`
	NegativePrompt string    `json:"negative_prompt"`
	AspectRatio    string    `json:"aspect_ratio,omitempty"`
	CFGScale       *float64  `json:"cfg_scale,omitempty"`
	Style          string    `json:"style,omitempty"`
	Quality        string    `json:"quality,omitempty"`
	ContentType    string    `json:"content_type"`
	Bytes          int64     `json:"bytes"`
	SHA256         string    `json:"sha256"`
	CreatedAt      time.Time `json:"created_at"`
	// Lineage of an edit's result, or "upload" / "mask" for an edit's input.
	Operation       string          `json:"operation,omitempty"`
	SourceImageID   string          `json:"source_image_id,omitempty"`
	StyleImageID    string          `json:"style_image_id,omitempty"`
	MaskImageID     string          `json:"mask_image_id,omitempty"`
	OperationFields json.RawMessage `json:"operation_fields,omitempty"`
}

// ViewImage returns the public view of an image, with its URLs.
func (s *Service) ViewImage(ctx context.Context, img *easel.Image) (*ImageView, error) {
	url, thumb, err := s.ImageURLs(ctx, img)
	if err != nil {
		return nil, err
	}
	v := &ImageView{
		ID: img.ID, URL: url, Width: img.Width, Height: img.Height, Seed: img.Seed,
		Model: img.Model, Prompt: img.Prompt, NegativePrompt: img.NegativePrompt,
		AspectRatio: img.AspectRatio, CFGScale: img.CFGScale, Style: img.Style, Quality: img.Quality,
		ContentType: img.ContentType, Bytes: img.Bytes, SHA256: img.SHA256, CreatedAt: img.CreatedAt,
		Operation: img.Operation, SourceImageID: img.SourceImageID, StyleImageID: img.StyleImageID,
		MaskImageID: img.MaskImageID, OperationFields: img.OperationFields,
	}
	if thumb != "" {
		v.ThumbnailURL = &thumb
	}
	return v, nil
}

// ViewImages returns the public views of images, in order.
func (s *Service) ViewImages(ctx context.Context, imgs []*easel.Image) ([]*ImageView, error) {
	out := make([]*ImageView, 0, len(imgs))
	for _, img := range imgs {
		v, err := s.ViewImage(ctx, img)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// JobView is a job as the API, webhooks and published events show it.
type JobView struct {
	ID         string                 `json:"id"`
	Object     string                 `json:"object"` // "job"
	Status     easel.JobStatus        `json:"status"`
	CreatedAt  time.Time              `json:"created_at"`
	StartedAt  *time.Time             `json:"started_at"`
	FinishedAt *time.Time             `json:"finished_at"`
	Request    *easel.GenerateRequest `json:"request"`
	// Edit is an edit job's request (Request is then null).
	Edit   *easel.EditRequest `json:"edit,omitempty"`
	Images []*ImageView       `json:"images"`
	// Filtered counts images the model's content filter removed; Failed those that
	// could not be made or stored.
	Filtered      int             `json:"filtered,omitempty"`
	Failed        int             `json:"failed,omitempty"`
	Error         *easel.JobError `json:"error"`
	QueuePosition *int            `json:"queue_position,omitempty"`
	Webhook       string          `json:"webhook,omitempty"`
	WebhookEvents []string        `json:"webhook_events,omitempty"`
	URLs          JobURLs         `json:"urls"`
}

// JobURLs are the job's own API paths.
type JobURLs struct {
	Get    string `json:"get"`
	Cancel string `json:"cancel"`
	Events string `json:"events"`
}

// JobPath is the API path of a job.
func JobPath(id string) string { return "/v1/jobs/" + id }

// ViewOptions shape a job's view.
type ViewOptions struct {
	// QueuePosition adds the position of a queued job (a catalog count).
	QueuePosition bool
	// OmitPrompts removes prompts (published events in production).
	OmitPrompts bool
}

// ViewJob returns the public view of a job: its images are read from the catalog
// (an image deleted since is left out).
func (s *Service) ViewJob(ctx context.Context, j *easel.Job, opt ViewOptions) (*JobView, error) {
	v := &JobView{
		ID: j.ID, Object: "job", Status: j.Status, CreatedAt: j.CreatedAt,
		Request: j.Spec.Generate, Edit: j.Spec.Edit, Filtered: j.Filtered, Failed: j.Failed, Error: j.Error,
		Webhook: j.Spec.Webhook, WebhookEvents: j.Spec.WebhookEvents,
		Images: []*ImageView{},
		URLs:   JobURLs{Get: JobPath(j.ID), Cancel: JobPath(j.ID) + "/cancel", Events: JobPath(j.ID) + "/events"},
	}
	if !j.StartedAt.IsZero() {
		t := j.StartedAt
		v.StartedAt = &t
	}
	if !j.FinishedAt.IsZero() {
		t := j.FinishedAt
		v.FinishedAt = &t
	}
	for _, id := range j.ImageIDs {
		img, err := s.catalog.GetImage(ctx, j.UserID, id)
		if easel.IsCode(err, easel.ENotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		iv, err := s.ViewImage(ctx, img)
		if err != nil {
			return nil, err
		}
		v.Images = append(v.Images, iv)
	}
	if opt.QueuePosition && j.Status == easel.JobQueued {
		n, err := s.QueuePosition(ctx, j)
		if err != nil {
			return nil, err
		}
		v.QueuePosition = &n
	}
	if opt.OmitPrompts {
		if v.Request != nil {
			r := *v.Request
			r.Prompt, r.NegativePrompt = "", ""
			v.Request = &r
		}
		if v.Edit != nil {
			e := v.Edit.Clone()
			e.Prompt, e.NegativePrompt, e.SearchPrompt, e.SelectPrompt = "", "", "", ""
			v.Edit = e
		}
		for _, iv := range v.Images {
			iv.Prompt, iv.NegativePrompt = "", ""
		}
	}
	return v, nil
}
