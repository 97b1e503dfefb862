package httpapi

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/easelhq/easel/service"
)

// Metrics holds Easel's Prometheus collectors in a registry of their own (no globals).
// It also implements service.Observer.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	generation *prometheus.HistogramVec
	images     *prometheus.CounterVec
	imageBytes *prometheus.CounterVec
	rejections *prometheus.CounterVec
	jobs       *prometheus.CounterVec
	handedBack prometheus.Counter
	webhooks   *prometheus.CounterVec
	refusals   *prometheus.CounterVec
}

var _ service.Observer = (*Metrics)(nil)

// NewMetrics registers Easel's collectors, plus the Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easel_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "easel_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"route"}),
		generation: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "easel_generation_duration_seconds", Help: "Model call latency by model and outcome (ok or an error code).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 20, 30, 60, 120, 300},
		}, []string{"model", "outcome"}),
		images: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easel_images_stored_total", Help: "Images stored, by model.",
		}, []string{"model"}),
		imageBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easel_image_bytes_stored_total", Help: "Bytes of images stored, by model.",
		}, []string{"model"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easel_rejections_total", Help: "Requests refused by a limit, by reason (rate, concurrency, inflight, quota).",
		}, []string{"reason"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easel_jobs_total", Help: "Jobs queued by requests (status queued) and jobs ended here, by status.",
		}, []string{"status"}),
		handedBack: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "easel_jobs_handed_back_total", Help: "Running jobs whose worker was gone, put back on the queue by the reaper.",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easel_webhook_deliveries_total", Help: "Webhook delivery attempts by result (delivered, failed, dropped after the retry period).",
		}, []string{"result"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "easel_orphan_sweeps_refused_total",
			Help: "Orphan sweeps that deleted nothing because the blob store is not known to be this catalog's, by reason (unmarked, foreign_mark).",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.generation, m.images, m.imageBytes, m.rejections, m.jobs, m.handedBack, m.webhooks, m.refusals,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Generated implements service.Observer.
func (m *Metrics) Generated(model string, took time.Duration, images int, bytes int64) {
	m.generation.WithLabelValues(model, "ok").Observe(took.Seconds())
	m.images.WithLabelValues(model).Add(float64(images))
	m.imageBytes.WithLabelValues(model).Add(float64(bytes))
}

// GenerateFailed implements service.Observer.
func (m *Metrics) GenerateFailed(model, code string, took time.Duration) {
	m.generation.WithLabelValues(model, code).Observe(took.Seconds())
}

// Rejected implements service.Observer.
func (m *Metrics) Rejected(reason string) { m.rejections.WithLabelValues(reason).Inc() }

// JobQueued implements service.Observer.
func (m *Metrics) JobQueued() { m.jobs.WithLabelValues("queued").Inc() }

// JobFinished implements service.Observer.
func (m *Metrics) JobFinished(status string) { m.jobs.WithLabelValues(status).Inc() }

// JobHandedBack implements service.Observer.
func (m *Metrics) JobHandedBack() { m.handedBack.Inc() }

// Webhook implements service.Observer.
func (m *Metrics) Webhook(result string) { m.webhooks.WithLabelValues(result).Inc() }

// watchInflight exports the instance's generations in progress, read from f.
func (m *Metrics) watchInflight(f func() float64) {
	_ = m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "easel_generations_in_flight", Help: "Generations in progress on this instance (synchronous requests and queued jobs).",
	}, f))
}

// SweepRefused implements service.Observer.
func (m *Metrics) SweepRefused(reason string) { m.refusals.WithLabelValues(reason).Inc() }
