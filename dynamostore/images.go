package dynamostore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/dynamostore/tabledef"
)

// Image items: pk "IMG#<id>", sk "IMG", so that an id is unique across users and
// LookupImage is one GetItem. A pending image carries gsi2pk "PENDING" for the sweeper;
// MarkReady removes it and adds gsi1pk "GAL#<user>", which puts the image in the user's
// gallery (a sparse index). gsi1sk and gsi2sk are "<created, Unix ns, 20 digits>#<id>".
const (
	imagePrefix    = "IMG#"
	imageSK        = "IMG"
	galleryPrefix  = "GAL#"
	pendingPK      = "PENDING"
	statusAttr     = "status"
	userAttr       = "user_id"
	thumbAttr      = "thumb_key"
	maxPendingPage = 1000
)

// imageItem is an image record as stored. Optional strings are omitted when empty.
type imageItem struct {
	PK             string   `dynamodbav:"pk"`
	SK             string   `dynamodbav:"sk"`
	GSI1PK         string   `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK         string   `dynamodbav:"gsi1sk"`
	GSI2PK         string   `dynamodbav:"gsi2pk,omitempty"`
	GSI2SK         string   `dynamodbav:"gsi2sk,omitempty"`
	ID             string   `dynamodbav:"id"`
	UserID         string   `dynamodbav:"user_id"`
	Status         string   `dynamodbav:"status"`
	Model          string   `dynamodbav:"model,omitempty"`
	Prompt         string   `dynamodbav:"prompt,omitempty"`
	NegativePrompt string   `dynamodbav:"negative_prompt,omitempty"`
	Width          int      `dynamodbav:"width"`
	Height         int      `dynamodbav:"height"`
	Seed           uint64   `dynamodbav:"seed"`
	CFGScale       *float64 `dynamodbav:"cfg_scale,omitempty"`
	Style          string   `dynamodbav:"style,omitempty"`
	Quality        string   `dynamodbav:"quality,omitempty"`
	AspectRatio    string   `dynamodbav:"aspect_ratio,omitempty"`
	ContentType    string   `dynamodbav:"content_type,omitempty"`
	Bytes          int64    `dynamodbav:"bytes"`
	SHA256         string   `dynamodbav:"sha256,omitempty"`
	Key            string   `dynamodbav:"object_key,omitempty"`
	ThumbKey       string   `dynamodbav:"thumb_key,omitempty"`
	CreatedAt      int64    `dynamodbav:"created_at"` // Unix ns
	// Edit lineage (issue 10); absent on generated images.
	Operation       string `dynamodbav:"operation,omitempty"`
	SourceImageID   string `dynamodbav:"source_image_id,omitempty"`
	StyleImageID    string `dynamodbav:"style_image_id,omitempty"`
	MaskImageID     string `dynamodbav:"mask_image_id,omitempty"`
	OperationFields string `dynamodbav:"operation_fields,omitempty"` // a JSON object
}

func imagePK(id string) string { return imagePrefix + id }

func galleryPK(userID string) string { return galleryPrefix + userID }

func toImageItem(img *easel.Image) imageItem {
	it := imageItem{
		PK: imagePK(img.ID), SK: imageSK,
		GSI1SK: sortKey(img.CreatedAt, img.ID),
		ID:     img.ID, UserID: img.UserID, Status: string(img.Status),
		Model: img.Model, Prompt: img.Prompt, NegativePrompt: img.NegativePrompt,
		Width: img.Width, Height: img.Height, Seed: img.Seed, CFGScale: img.CFGScale,
		Style: img.Style, Quality: img.Quality, AspectRatio: img.AspectRatio,
		ContentType: img.ContentType, Bytes: img.Bytes, SHA256: img.SHA256,
		Key: img.Key, ThumbKey: img.ThumbKey,
		CreatedAt: img.CreatedAt.UnixNano(),
		Operation: img.Operation, SourceImageID: img.SourceImageID, StyleImageID: img.StyleImageID,
		MaskImageID: img.MaskImageID, OperationFields: string(img.OperationFields),
	}
	switch img.Status {
	case easel.StatusReady:
		it.GSI1PK = galleryPK(img.UserID)
	default:
		it.GSI2PK, it.GSI2SK = pendingPK, it.GSI1SK
	}
	return it
}

func (it *imageItem) image() *easel.Image {
	return &easel.Image{
		ID: it.ID, UserID: it.UserID, Status: easel.ImageStatus(it.Status),
		Model: it.Model, Prompt: it.Prompt, NegativePrompt: it.NegativePrompt,
		Width: it.Width, Height: it.Height, Seed: it.Seed, CFGScale: it.CFGScale,
		Style: it.Style, Quality: it.Quality, AspectRatio: it.AspectRatio,
		ContentType: it.ContentType, Bytes: it.Bytes, SHA256: it.SHA256,
		Key: it.Key, ThumbKey: it.ThumbKey,
		CreatedAt: fromNanos(it.CreatedAt),
		Operation: it.Operation, SourceImageID: it.SourceImageID, StyleImageID: it.StyleImageID,
		MaskImageID: it.MaskImageID, OperationFields: optionalJSON(it.OperationFields),
	}
}

func optionalJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func decodeImage(item map[string]types.AttributeValue) (*easel.Image, error) {
	var it imageItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return nil, fmt.Errorf("decode image item: %w", err)
	}
	return it.image(), nil
}

func notFound(id string) error {
	return easel.Errorf(easel.ENotFound, "Image %s was not found.", id)
}

// CreateImage stores a new record. EConflict if the id exists, whoever owns it.
func (s *Store) CreateImage(ctx context.Context, img *easel.Image) error {
	if img.ID == "" || img.UserID == "" {
		return easel.Errorf(easel.EInvalid, "image record needs an id and a user")
	}
	if img.Status != easel.StatusPending && img.Status != easel.StatusReady {
		return easel.Errorf(easel.EInvalid, "image status %q is not pending or ready", img.Status)
	}
	if err := checkTime("image creation time", img.CreatedAt); err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(toImageItem(img))
	if err != nil {
		return fmt.Errorf("encode image %s: %w", img.ID, err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if ok, _ := conditionFailed(err); ok {
		return easel.WrapError(easel.EConflict, err, "An image with id %s exists.", img.ID)
	}
	if err != nil {
		return s.fail(err, "put image %s", img.ID)
	}
	return nil
}

// MarkReady moves the user's record to ready: into the gallery index, out of the
// pending index. ENotFound if there is no such record of that user.
func (s *Store) MarkReady(ctx context.Context, userID, id string) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 itemKey(imagePK(id), imageSK),
		UpdateExpression:    aws.String("SET #status = :ready, #gsi1pk = :gallery REMOVE #gsi2pk, #gsi2sk"),
		ConditionExpression: aws.String("#user = :user"),
		ExpressionAttributeNames: map[string]string{
			"#status": statusAttr, "#user": userAttr,
			"#gsi1pk": tabledef.GSI1PK, "#gsi2pk": tabledef.GSI2PK, "#gsi2sk": tabledef.GSI2SK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ready":   str(string(easel.StatusReady)),
			":gallery": str(galleryPK(userID)),
			":user":    str(userID),
		},
	})
	if ok, _ := conditionFailed(err); ok {
		return notFound(id)
	}
	if err != nil {
		return s.fail(err, "mark image %s ready", id)
	}
	return nil
}

// SetThumbKey records the thumbnail of the user's ready image. ENotFound otherwise.
func (s *Store) SetThumbKey(ctx context.Context, userID, id, thumbKey string) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(imagePK(id), imageSK),
		UpdateExpression:         aws.String("SET #thumb = :thumb"),
		ConditionExpression:      aws.String("#user = :user AND #status = :ready"),
		ExpressionAttributeNames: map[string]string{"#thumb": thumbAttr, "#user": userAttr, "#status": statusAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":thumb": str(thumbKey),
			":user":  str(userID),
			":ready": str(string(easel.StatusReady)),
		},
	})
	if ok, _ := conditionFailed(err); ok {
		return notFound(id)
	}
	if err != nil {
		return s.fail(err, "set thumbnail of image %s", id)
	}
	return nil
}

// GetImage returns the user's ready image. ENotFound otherwise.
func (s *Store) GetImage(ctx context.Context, userID, id string) (*easel.Image, error) {
	img, err := s.LookupImage(ctx, id)
	if err != nil {
		return nil, err
	}
	if img.UserID != userID || img.Status != easel.StatusReady {
		return nil, notFound(id)
	}
	return img, nil
}

// LookupImage returns the record with that id, whatever its owner and status.
func (s *Store) LookupImage(ctx context.Context, id string) (*easel.Image, error) {
	item, err := s.getItem(ctx, imagePK(id), imageSK)
	if err != nil {
		return nil, s.fail(err, "get image %s", id)
	}
	if item == nil {
		return nil, notFound(id)
	}
	return decodeImage(item)
}

// ListImages queries the gallery index (never a scan): the user's partition, newest
// first. The cursor becomes the ExclusiveStartKey: the index key of the cursor's image
// plus its table key, always in the caller's own partition, so a cursor can only move
// within the caller's gallery.
func (s *Store) ListImages(ctx context.Context, userID string, opt easel.ListOptions) ([]*easel.Image, *easel.PageCursor, error) {
	if opt.Limit < 1 || opt.Limit > easel.MaxPageSize {
		return nil, nil, easel.ParamErrorf("limit", "The limit must be between 1 and %d.", easel.MaxPageSize)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(tabledef.GalleryIndex),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": tabledef.GSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(galleryPK(userID))},
		ScanIndexForward:          aws.Bool(false),
	}
	if c := opt.After; c != nil {
		if err := checkTime("cursor time", c.CreatedAt); err != nil {
			return nil, nil, err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			tabledef.GSI1PK: str(galleryPK(userID)),
			tabledef.GSI1SK: str(sortKey(c.CreatedAt, c.ID)),
			tabledef.PK:     str(imagePK(c.ID)),
			tabledef.SK:     str(imageSK),
		}
	}
	// One more than the page: if it comes back, there is a next page.
	items, err := s.query(ctx, in, opt.Limit+1)
	if err != nil {
		return nil, nil, s.fail(err, "query gallery of %q", userID)
	}
	imgs := make([]*easel.Image, 0, min(len(items), opt.Limit))
	for _, item := range items[:min(len(items), opt.Limit)] {
		img, err := decodeImage(item)
		if err != nil {
			return nil, nil, err
		}
		imgs = append(imgs, img)
	}
	var next *easel.PageCursor
	if len(items) > opt.Limit {
		last := imgs[len(imgs)-1]
		next = &easel.PageCursor{CreatedAt: last.CreatedAt, ID: last.ID}
	}
	return imgs, next, nil
}

// query runs in until it has want items or the results end, following
// LastEvaluatedKey across DynamoDB's 1 MB pages.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, want int) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	for len(items) < want {
		in.Limit = aws.Int32(int32(want - len(items)))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return items, nil
}

// DeleteImage deletes the user's record, whatever its status, and returns it.
// ENotFound if the user has no such record.
func (s *Store) DeleteImage(ctx context.Context, userID, id string) (*easel.Image, error) {
	out, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(imagePK(id), imageSK),
		ConditionExpression:       aws.String("#user = :user"),
		ExpressionAttributeNames:  map[string]string{"#user": userAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":user": str(userID)},
		ReturnValues:              types.ReturnValueAllOld,
	})
	if ok, _ := conditionFailed(err); ok {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, s.fail(err, "delete image %s", id)
	}
	return decodeImage(out.Attributes)
}

// ListPending queries the pending index, oldest first, for records created strictly
// before the given time (the sort key "<time>#<id>" sorts after "<time>").
func (s *Store) ListPending(ctx context.Context, before time.Time, limit int) ([]*easel.Image, error) {
	if limit < 1 {
		return nil, easel.ParamErrorf("limit", "The limit must be positive.")
	}
	limit = min(limit, maxPendingPage)
	if err := checkTime("pending cutoff", before); err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(tabledef.PendingIndex),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk < :before"),
		ExpressionAttributeNames: map[string]string{"#pk": tabledef.GSI2PK, "#sk": tabledef.GSI2SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":     str(pendingPK),
			":before": str(sortTime(before)),
		},
		ScanIndexForward: aws.Bool(true),
	}
	items, err := s.query(ctx, in, limit)
	if err != nil {
		return nil, s.fail(err, "query pending images")
	}
	imgs := make([]*easel.Image, 0, len(items))
	for _, item := range items {
		img, err := decodeImage(item)
		if err != nil {
			return nil, err
		}
		// The index lags the table in DynamoDB: skip a record made ready meanwhile.
		if img.Status == easel.StatusPending {
			imgs = append(imgs, img)
		}
	}
	return imgs, nil
}

// DeletePending deletes a record only while it is pending. ENotFound if it is gone or
// ready.
func (s *Store) DeletePending(ctx context.Context, id string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(imagePK(id), imageSK),
		ConditionExpression:       aws.String("#status = :pending"),
		ExpressionAttributeNames:  map[string]string{"#status": statusAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pending": str(string(easel.StatusPending))},
	})
	if ok, _ := conditionFailed(err); ok {
		return notFound(id)
	}
	if err != nil {
		return s.fail(err, "delete pending image %s", id)
	}
	return nil
}
