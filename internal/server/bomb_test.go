package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"panguard.ai/auth/internal/loadgen"
	"panguard.ai/auth/internal/storetest"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// rpcProcedure is one procedure the mux serves.
type rpcProcedure struct {
	path                       string
	clientStream, serverStream bool
}

// mountedProcedures lists every procedure connectHandlers mounts: AuthService's and PasskeyService's
// from their descriptors, so a method added later is covered without editing this test, then health's
// and reflection's (their descriptors are registered under connect-go's private names).
func mountedProcedures() []rpcProcedure {
	var procs []rpcProcedure
	for _, services := range []protoreflect.ServiceDescriptors{authv1.File_panguard_auth_v1_auth_proto.Services(), authv1.File_panguard_auth_v1_passkey_proto.Services()} {
		for i := range services.Len() {
			sd := services.Get(i)
			for j := range sd.Methods().Len() {
				m := sd.Methods().Get(j)
				procs = append(procs, rpcProcedure{
					path:         "/" + string(sd.FullName()) + "/" + string(m.Name()),
					clientStream: m.IsStreamingClient(), serverStream: m.IsStreamingServer(),
				})
			}
		}
	}
	return append(procs,
		rpcProcedure{path: "/" + grpchealth.HealthV1ServiceName + "/Check"},
		rpcProcedure{path: "/" + grpchealth.HealthV1ServiceName + "/Watch", serverStream: true},
		rpcProcedure{path: "/" + grpcreflect.ReflectV1ServiceName + "/ServerReflectionInfo", clientStream: true, serverStream: true},
		rpcProcedure{path: "/" + grpcreflect.ReflectV1AlphaServiceName + "/ServerReflectionInfo", clientStream: true, serverStream: true},
	)
}

// gzipZeros is a gzip body that inflates to n MiB of zeros: one member holding a compressed
// MiB, repeated, as gzip allows, so that building a large bomb costs one MiB of deflate.
func gzipZeros(t *testing.T, n int) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(member.Bytes(), n)
}

// cpuTime is the CPU time this process has used, in all its threads.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// inflateCPU is the CPU time it takes to inflate gz in full, here, for comparison.
func inflateCPU(t *testing.T, gz []byte) time.Duration {
	start := cpuTime(t)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatal(err)
	}
	return cpuTime(t) - start
}

// envelope frames payload as one length-prefixed message with the given flags.
func envelope(flags byte, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// rpcStatus is what a server answered, reduced to what every protocol can say.
type rpcStatus struct {
	httpStatus int
	code       string // the Connect code name, or the gRPC status number
}

// bombRequest is one way of sending a compressed body to a procedure.
type bombRequest struct {
	name   string
	client *http.Client
	header map[string]string
	framed bool // the body is an envelope with the compressed flag
	status func(*http.Response, []byte) rpcStatus
}

func connectUnaryStatus(res *http.Response, body []byte) rpcStatus {
	var e struct{ Code string }
	json.Unmarshal(body, &e)
	return rpcStatus{res.StatusCode, e.Code}
}

// frames splits a body into envelopes, inflating the compressed ones.
func frames(body []byte) (flags []byte, payloads [][]byte) {
	for len(body) >= 5 {
		n := int(binary.BigEndian.Uint32(body[1:5]))
		if len(body) < 5+n {
			break
		}
		payload := body[5 : 5+n]
		if body[0]&0x01 != 0 {
			if zr, err := gzip.NewReader(bytes.NewReader(payload)); err == nil {
				payload, _ = io.ReadAll(io.LimitReader(zr, 1<<20))
			}
		}
		flags, payloads = append(flags, body[0]), append(payloads, payload)
		body = body[5+n:]
	}
	return flags, payloads
}

func connectStreamStatus(res *http.Response, body []byte) rpcStatus {
	flags, payloads := frames(body)
	for i, f := range flags {
		if f&0x02 != 0 {
			var end struct{ Error struct{ Code string } }
			json.Unmarshal(payloads[i], &end)
			return rpcStatus{res.StatusCode, end.Error.Code}
		}
	}
	return rpcStatus{res.StatusCode, "no end-of-stream message"}
}

func grpcStatus(res *http.Response, body []byte) rpcStatus {
	s := res.Trailer.Get("Grpc-Status")
	if s == "" {
		s = res.Header.Get("Grpc-Status") // a trailers-only answer
	}
	return rpcStatus{res.StatusCode, "grpc-status " + s}
}

func grpcWebStatus(res *http.Response, body []byte) rpcStatus {
	if s := res.Header.Get("Grpc-Status"); s != "" {
		return rpcStatus{res.StatusCode, "grpc-status " + s}
	}
	flags, payloads := frames(body)
	for i, f := range flags {
		if f&0x80 == 0 {
			continue
		}
		for _, line := range strings.Split(string(payloads[i]), "\r\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "grpc-status") {
				return rpcStatus{res.StatusCode, "grpc-status " + strings.TrimSpace(v)}
			}
		}
	}
	return rpcStatus{res.StatusCode, "no grpc-status"}
}

// bombRequests are the ways a procedure can be sent a gzip body: Connect (unary with either
// codec, or streaming), gRPC over HTTP/2 and gRPC-web.
func bombRequests(p rpcProcedure) []bombRequest {
	// Bidirectional streams need HTTP/2; the rest go over HTTP/1.1 where they can.
	h1 := http.DefaultClient
	if p.clientStream {
		h1 = h2cClient()
	}
	var reqs []bombRequest
	if !p.clientStream && !p.serverStream {
		for _, ct := range []string{"application/proto", "application/json"} {
			reqs = append(reqs, bombRequest{name: "connect " + ct, client: http.DefaultClient,
				header: map[string]string{"Content-Type": ct, "Content-Encoding": "gzip", "Connect-Protocol-Version": "1"},
				status: connectUnaryStatus})
		}
	} else {
		reqs = append(reqs, bombRequest{name: "connect stream", client: h1, framed: true,
			header: map[string]string{"Content-Type": "application/connect+proto", "Connect-Content-Encoding": "gzip", "Connect-Protocol-Version": "1"},
			status: connectStreamStatus})
	}
	return append(reqs,
		bombRequest{name: "grpc", client: h2cClient(), framed: true,
			header: map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "gzip", "Te": "trailers"},
			status: grpcStatus},
		bombRequest{name: "grpc-web", client: h1, framed: true,
			header: map[string]string{"Content-Type": "application/grpc-web+proto", "Grpc-Encoding": "gzip"},
			status: grpcWebStatus},
	)
}

// bombAllocBudget is how much the process may allocate while answering one bomb: a small
// fraction of what even the smaller bomb inflates to.
const bombAllocBudget = 16 << 20

func TestCompressionBombsAreRefusedByEveryRPCHandler(t *testing.T) {
	_, a := startServer(t, storetest.SQLiteURL(t))
	base := startH2C(t, a)
	bombs := []struct {
		name     string
		inflated int
		gz       []byte
	}{
		// Under the wire cap: only the limit on the decompressed size stops this one.
		{name: "48 MiB in under 64 KiB", inflated: 48 << 20},
		// Over the wire cap as well.
		{name: "256 MiB in 256 KiB", inflated: 256 << 20},
	}
	for i := range bombs {
		bombs[i].gz = gzipZeros(t, bombs[i].inflated>>20)
	}
	if len(bombs[0].gz) >= MaxBodyBytes {
		t.Fatalf("the small bomb is %d bytes compressed; it must fit under the 64 KiB limit", len(bombs[0].gz))
	}
	peakBefore, peakErr := loadgen.PeakRSS(os.Getpid())
	var worst uint64
	for _, bomb := range bombs {
		sent, calibration, cpuBefore := 0, inflateCPU(t, bomb.gz), cpuTime(t)
		for _, p := range mountedProcedures() {
			for _, br := range bombRequests(p) {
				t.Run(bomb.name+"/"+br.name+p.path, func(t *testing.T) {
					sent++
					body := bomb.gz
					if br.framed {
						body = envelope(0x01, body)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+p.path, bytes.NewReader(body))
					for k, v := range br.header {
						req.Header.Set(k, v)
					}
					var before, after runtime.MemStats
					runtime.ReadMemStats(&before)
					start := time.Now()
					res, err := br.client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					answer, err := io.ReadAll(res.Body)
					res.Body.Close()
					took := time.Since(start)
					runtime.ReadMemStats(&after)
					if err != nil && !errors.Is(err, io.EOF) {
						t.Fatalf("reading the answer: %v", err)
					}
					grew := after.TotalAlloc - before.TotalAlloc
					worst = max(worst, grew)
					got := br.status(res, answer)
					want := rpcStatus{http.StatusOK, "grpc-status 8"}
					switch br.name {
					case "connect application/proto", "connect application/json":
						want = rpcStatus{http.StatusTooManyRequests, "resource_exhausted"}
					case "connect stream":
						want = rpcStatus{http.StatusOK, "resource_exhausted"}
					}
					if got != want {
						t.Errorf("answer %+v (%.200q), want %+v", got, answer, want)
					}
					if grew > bombAllocBudget {
						t.Errorf("allocated %d MiB answering a %d KiB body that inflates to %d MiB", grew>>20, len(body)>>10, bomb.inflated>>20)
					}
					if took > 5*time.Second {
						t.Errorf("took %v to refuse", took)
					}
				})
			}
		}
		// Refusing a bomb must not cost inflating it: connect-go on its own inflates what is
		// past the limit just to report its size.
		spent := cpuTime(t) - cpuBefore
		t.Logf("%s: refusing %d bombs took %v of CPU; inflating one takes %v", bomb.name, sent, spent, calibration)
		if spent > calibration*time.Duration(sent)/2 {
			t.Errorf("%s: refusing %d bombs took %v of CPU; inflating one takes %v", bomb.name, sent, spent, calibration)
		}
	}
	t.Logf("most allocated for one bomb: %d KiB", worst>>10)
	// A coarse second opinion (the race detector alone multiplies the heap's footprint): the
	// process never held the large bomb inflated.
	if peakErr == nil {
		if peakAfter, err := loadgen.PeakRSS(os.Getpid()); err == nil && peakAfter-peakBefore >= int64(bombs[1].inflated) {
			t.Errorf("peak RSS grew by %d MiB across the bombs", (peakAfter-peakBefore)>>20)
		}
	}
}

// registerOfSize is a Register request whose encoding is exactly n bytes.
func registerOfSize(t *testing.T, n int) *authv1.RegisterRequest {
	t.Helper()
	m := &authv1.RegisterRequest{Email: "big@example.com", Password: "password1"}
	for pad := n; pad > 0; pad-- {
		m.Name = strings.Repeat("a", pad)
		if s := proto.Size(m); s == n {
			return m
		} else if s < n {
			break
		}
	}
	t.Fatalf("no Register request encodes to %d bytes", n)
	return nil
}

// The wire cap sits above the message limit: a message of exactly MaxBodyBytes reaches the
// handler over every protocol, compressed or not, and one byte more does not.
func TestRPCMessagesUpToTheLimitStillReachTheHandler(t *testing.T) {
	_, a := startServer(t, storetest.SQLiteURL(t))
	base := startH2C(t, a)
	protocols := map[string][]connect.ClientOption{
		"connect":  nil,
		"grpc":     {connect.WithGRPC()},
		"grpc-web": {connect.WithGRPCWeb()},
	}
	for name, opts := range protocols {
		for _, gz := range []bool{false, true} {
			opts := opts
			if gz {
				name += "+gzip"
				opts = append(opts[:len(opts):len(opts)], connect.WithSendGzip())
			}
			t.Run(name, func(t *testing.T) {
				c := authv1connect.NewAuthServiceClient(h2cClient(), base, opts...)
				_, err := c.Register(context.Background(), connect.NewRequest(registerOfSize(t, MaxBodyBytes)))
				if code := connect.CodeOf(err); code == connect.CodeResourceExhausted || code == connect.CodeUnknown || code == connect.CodeInternal {
					t.Fatalf("a %d-byte message: %v", MaxBodyBytes, err)
				}
				_, err = c.Register(context.Background(), connect.NewRequest(registerOfSize(t, MaxBodyBytes+1)))
				if connect.CodeOf(err) != connect.CodeResourceExhausted {
					t.Fatalf("a %d-byte message: %v, want resource_exhausted", MaxBodyBytes+1, err)
				}
			})
		}
	}
}

// zeros is an endless body that counts how much of it was read.
type zeros struct{ read atomic.Int64 }

func (z *zeros) Read(p []byte) (int, error) {
	clear(p)
	z.read.Add(int64(len(p)))
	return len(p), nil
}

// An RPC body far over the limit is refused after the first KiB past it, not read and thrown
// away to its end: a client cannot keep a handler busy draining gigabytes.
func TestOversizedRPCBodiesAreCutOffEarly(t *testing.T) {
	_, a := startServer(t, storetest.SQLiteURL(t))
	base := startH2C(t, a)
	const declared = 256 << 20
	prefix := make([]byte, 5)
	binary.BigEndian.PutUint32(prefix[1:], declared)
	cases := []struct {
		name, path, ctype string
		framed            bool
		status            func(*http.Response, []byte) rpcStatus
		want              rpcStatus
	}{
		{"connect", authv1connect.AuthServiceLoginProcedure, "application/proto", false, connectUnaryStatus, rpcStatus{http.StatusTooManyRequests, "resource_exhausted"}},
		{"grpc", authv1connect.AuthServiceLoginProcedure, "application/grpc", true, grpcStatus, rpcStatus{http.StatusOK, "grpc-status 8"}},
		{"grpc-web", authv1connect.AuthServiceLoginProcedure, "application/grpc-web+proto", true, grpcWebStatus, rpcStatus{http.StatusOK, "grpc-status 8"}},
		{"grpc health", "/grpc.health.v1.Health/Check", "application/grpc", true, grpcStatus, rpcStatus{http.StatusOK, "grpc-status 8"}},
		{"grpc reflection", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "application/grpc", true, grpcStatus, rpcStatus{http.StatusOK, "grpc-status 8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := &zeros{}
			var r io.Reader = io.LimitReader(body, declared)
			if tc.framed {
				r = io.MultiReader(bytes.NewReader(prefix), r)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+tc.path, r)
			req.Header.Set("Content-Type", tc.ctype)
			req.Header.Set("Te", "trailers")
			res, err := h2cClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if got := tc.status(res, answer); got != tc.want {
				t.Errorf("answer %+v (%.200q), want %+v", got, answer, tc.want)
			}
			// HTTP/2 flow control lets the client run ahead of the handler by a window
			// (a few MiB at most); anything near the declared size was read by the server.
			if n := body.read.Load(); n > 16<<20 {
				t.Errorf("the server read %d MiB of a body refused at 64 KiB", n>>20)
			}
		})
	}
}
