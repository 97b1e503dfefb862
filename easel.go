// Package easel is the domain of the Easel image service: the records it keeps, the
// requests it accepts, the errors it answers with, and the small ports (Model,
// BlobStore, Catalog) that adapters implement. It imports no adapter and no SDK.
package easel
