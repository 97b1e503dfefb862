package service_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/easelhq/easel"
	"github.com/easelhq/easel/internal/localtest"
	"github.com/easelhq/easel/service"
	"github.com/easelhq/easel/sqlitestore"
)

// BenchmarkSubmitAsync: the work of POST /v1/images with Prefer: respond-async on the
// local stores (SQLite catalog and queue), with a backlog of queued jobs (no workers):
// validation, the job record, the queue message and the job's view with its queue
// position.
func BenchmarkSubmitAsync(b *testing.B) {
	for _, backlog := range []int{0, 1000} {
		b.Run("backlog="+strconv.Itoa(backlog), func(b *testing.B) {
			st, fs, _ := localtest.Stores(b, "http://127.0.0.1/images/")
			svc, err := service.New(service.Config{
				Models: []easel.Model{newFixedModel(b, 64, 64)}, Catalog: st, Blobs: fs, Limits: unlimited(),
				Jobs: service.JobConfig{Queue: st.Queue(sqlitestore.QueueOptions{}), UserQueue: -1},
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { svc.Close(context.Background()) })
			ctx := context.Background()
			p := &service.Principal{UserID: "bench"}
			submit := func() *easel.Job {
				sub, err := svc.Submit(ctx, p, &easel.GenerateRequest{Prompt: "a lighthouse"}, service.JobOptions{}, "", true)
				if err != nil {
					b.Fatal(err)
				}
				return sub.Job
			}
			for range backlog {
				submit()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				j := submit()
				if _, err := svc.ViewJob(ctx, j, service.ViewOptions{QueuePosition: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
