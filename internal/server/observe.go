package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/outbox"
	"panguard.ai/auth/internal/store"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// metrics are the service's Prometheus metrics. Labels never hold user data: operation
// names, transports, status codes and stable reasons only.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	failures *prometheus.CounterVec
	hashWait prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "panguard_requests_total", Help: "Requests by operation, transport and status (HTTP status for REST, Connect code for RPC).",
		}, []string{"operation", "transport", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "panguard_request_duration_seconds", Help: "Request latency by operation and transport.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation", "transport"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "panguard_failures_total", Help: "Failed requests by operation and stable reason (invalid_credentials, rate_limited, ...).",
		}, []string{"operation", "reason"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "panguard_password_hash_wait_seconds", Help: "Time a password hash waited for a hashing slot.",
			Buckets: []float64{0, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5},
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.failures, m.hashWait,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watch registers the gauges read at scrape time: hashing queue, outbox, DB pool.
func (m *metrics) watch(a *auth.Service, st *store.Store, sender *outbox.Sender, log *slog.Logger) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "panguard_password_hash_running", Help: "Password hashes running."},
			func() float64 { r, _ := a.HashQueue(); return float64(r) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "panguard_password_hash_queue_depth", Help: "Requests waiting for a hashing slot."},
			func() float64 { _, w := a.HashQueue(); return float64(w) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "panguard_outbox_handled_total", Help: "Outbox entries delivered by this process."},
			func() float64 { return float64(sender.Stats().Handled) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "panguard_outbox_retries_total", Help: "Failed outbox attempts that will be retried."},
			func() float64 { return float64(sender.Stats().Retried) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "panguard_outbox_send_failures_total", Help: "Outbox entries given up on by this process (kept as failed)."},
			func() float64 { return float64(sender.Stats().Failed) }),
		collectors.NewDBStatsCollector(st.SQLDB(), "panguard"),
	)
	backlog := func(failed bool) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			p, f, err := st.OutboxCounts(ctx)
			if err != nil {
				log.Warn("metrics: outbox counts", "err", err)
				return -1
			}
			if failed {
				return float64(f)
			}
			return float64(p)
		}
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "panguard_outbox_pending", Help: "Outbox entries waiting to be sent (all replicas)."}, backlog(false)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "panguard_outbox_failed", Help: "Outbox entries that failed for good (all replicas)."}, backlog(true)),
	)
}

var rpcPrefix = "/" + authv1connect.AuthServiceName + "/"

// operationOf names the operation of a request the way the RPC does (Login, Me, ...).
func operationOf(routes map[string]string, r *http.Request) (op, transport string) {
	if name, ok := strings.CutPrefix(r.URL.Path, rpcPrefix); ok {
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "application/grpc-web"):
			transport = "grpc-web"
		case strings.HasPrefix(ct, "application/grpc"):
			transport = "grpc"
		default:
			transport = "connect"
		}
		if _, known := routes[name]; known {
			return name, transport
		}
		return "unknown", transport
	}
	if op, ok := routes[r.Method+" "+r.URL.Path]; ok {
		return op, "rest"
	}
	return "other", "rest"
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and friends (gRPC streams need them).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

type requestIDKey struct{}

// logFrom is the request's logger (with its request id), or fallback. The logger is made
// here, when something is logged, not for every request.
func logFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return fallback.With("request_id", id)
	}
	return fallback
}

// observe gives every request an id (echoed in X-Request-Id and in every log line about
// it), writes one access-log line, and records the metrics. Bodies, headers and query
// strings are never logged: they may hold passwords, tokens and codes.
//
// It also derives the request's context, once for all the edge needs: the client's address
// and User-Agent (withClientIP), the request id, and the deadline of every request (timeout).
// One derivation instead of one per concern is a measurable share of a cheap request's cost.
func observe(m *metrics, log *slog.Logger, routes map[string]string, ips clientIPs, timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDRE.MatchString(id) {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		op, transport := operationOf(routes, r)
		ctx := clientContext(r.Context(), ips, r)
		ctx = context.WithValue(ctx, requestIDKey{}, id)
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		d := time.Since(start)
		if transport == "rest" && op != "other" {
			m.requests.WithLabelValues(op, transport, strconv.Itoa(sw.status)).Inc()
			m.latency.WithLabelValues(op, transport).Observe(d.Seconds())
		}
		// LogAttrs checks the level first: below it, the line costs nothing.
		log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", id), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("operation", op), slog.String("transport", transport),
			slog.Int("status", sw.status), slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.String("client_ip", auth.ClientIP(ctx)))
	})
}

// rpcMetrics records RPC requests with their Connect code (gRPC answers are HTTP 200 even
// when they fail).
func rpcMetrics(m *metrics) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			start := time.Now()
			res, err := next(ctx, req)
			op := req.Spec().Procedure[strings.LastIndexByte(req.Spec().Procedure, '/')+1:]
			transport := req.Peer().Protocol
			if transport == connect.ProtocolGRPCWeb {
				transport = "grpc-web"
			}
			status := "ok"
			if err != nil {
				status = connect.CodeOf(err).String()
			}
			m.requests.WithLabelValues(op, transport, status).Inc()
			m.latency.WithLabelValues(op, transport).Observe(time.Since(start).Seconds())
			return res, err
		}
	}
}

// health serves /healthz (the process is up) and /readyz (it can serve: the database
// answers and it is not shutting down), plus /metrics unless that has an address of its own.
func health(mux *http.ServeMux, m *metrics, st *store.Store, draining *atomic.Bool, withMetrics bool) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		switch {
		case draining.Load():
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"draining"}` + "\n"))
		case st.Ping(ctx) != nil:
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"database unavailable"}` + "\n"))
		default:
			w.Write([]byte(`{"status":"ready"}` + "\n"))
		}
	})
	if withMetrics {
		mux.Handle("GET /metrics", m.handler())
	}
}

// operationsHandler is what PANGUARD_METRICS_ADDR (an admin network) serves: the Go runtime's
// profiles under /debug/pprof/ (CPU, heap, allocations, goroutines, block and mutex) and the
// metrics on every other path. The profiles never reach the public port.
func operationsHandler(m *metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", m.handler())
	return mux
}

// handler serves the metrics in the Prometheus text format.
func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }
