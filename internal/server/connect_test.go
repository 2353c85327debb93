package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

func TestReflectionListsTheService(t *testing.T) {
	t.Parallel()
	_, a := startServer(t, storetest.SQLiteURL(t))
	base := startH2C(t, a)
	for name, opts := range map[string][]connect.ClientOption{"grpc": {connect.WithGRPC()}, "connect": nil} {
		t.Run(name, func(t *testing.T) {
			client := grpcreflect.NewClient(h2cClient(), base, opts...)
			stream := client.NewStream(context.Background())
			defer stream.Close()
			names, err := stream.ListServices()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range names {
				got = append(got, string(n))
			}
			if !slices.Contains(got, authv1connect.AuthServiceName) || !slices.Contains(got, grpchealth.HealthV1ServiceName) {
				t.Fatalf("reflection lists %v", got)
			}
		})
	}
}

func TestHealthReportsServing(t *testing.T) {
	t.Parallel()
	_, a := startServer(t, storetest.SQLiteURL(t))
	base := startH2C(t, a)
	res, err := http.Post(base+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader(`{"service":"panguard.auth.v1.AuthService"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "SERVING") {
		t.Fatalf("health: %d %s", res.StatusCode, body)
	}
}

func TestConnectRejectsBadInputWith4xx(t *testing.T) {
	t.Parallel()
	_, a := startServer(t, storetest.SQLiteURL(t))
	base := startH2C(t, a)
	cases := []struct {
		name, body string
		status     int
	}{
		{"number for email", `{"email":5,"name":"a","password":"password1"}`, 400},
		{"malformed JSON", `{"email":`, 400},
		{"null body", `null`, 400},
		{"oversized", `{"name":"` + strings.Repeat("a", 70000) + `"}`, 429},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := http.Post(base+"/panguard.auth.v1.AuthService/Register", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 || (tc.status != 0 && res.StatusCode != tc.status && !(tc.name == "oversized" && res.StatusCode == 413)) {
				t.Fatalf("status %d: %s", res.StatusCode, b)
			}
			if !strings.Contains(string(b), `"code"`) {
				t.Fatalf("no Connect error body: %s", b)
			}
		})
	}
}

func TestCORSOnlyForConfiguredOriginsOnRESTAndRPC(t *testing.T) {
	t.Parallel()
	cfg := testConfig(storetest.SQLiteURL(t))
	cfg.CORSOrigins = []string{"https://dashboard.panguard.test"}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.store.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	call := func(method, path, origin string, hdr ...string) *http.Response {
		body := io.Reader(nil)
		if method == http.MethodPost {
			body = strings.NewReader(`{"email":"nobody@example.com","password":"password1"}`)
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		req.Header.Set("Origin", origin)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	const allowed, other = "https://dashboard.panguard.test", "https://evil.example"
	for _, c := range []struct {
		name, path, headers string
		extra               []string
	}{
		{"REST", "/api/auth/login", "authorization,content-type", []string{"Content-Type", "application/json"}},
		{"Connect", "/panguard.auth.v1.AuthService/Login", "authorization,connect-protocol-version,content-type", []string{"Content-Type", "application/json", "Connect-Protocol-Version", "1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pre := call(http.MethodOptions, c.path, allowed, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", c.headers)
			h := pre.Header
			if pre.StatusCode >= 300 || h.Get("Access-Control-Allow-Origin") != allowed ||
				!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") || h.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatalf("allowed origin preflight: %d %v", pre.StatusCode, h)
			}
			if h := call(http.MethodOptions, c.path, other, "Access-Control-Request-Method", "POST").Header; h.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("other origin got CORS: %v", h)
			}
			res := call(http.MethodPost, c.path, allowed, c.extra...)
			if res.Header.Get("Access-Control-Allow-Origin") != allowed || res.Header.Get("Access-Control-Allow-Credentials") != "" || res.StatusCode != 401 {
				t.Fatalf("allowed origin request: %d %v", res.StatusCode, res.Header)
			}
			if res := call(http.MethodPost, c.path, other, c.extra...); res.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("other origin request readable: %v", res.Header)
			}
		})
	}
}

func TestServesItsOwnContract(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, storetest.SQLiteURL(t))
	for path, want := range map[string]string{"/api/openapi.yaml": "operationId: login", "/api/openapi.json": `"operationId": "login"`} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d %.200s", path, res.StatusCode, b)
		}
	}
}

// Decoding errors come from connect-go's codecs, before any interceptor runs; their messages
// must still name the problem, never our Go types or the protobuf runtime.
func TestRPCDecodeErrorsNameNoInternals(t *testing.T) {
	t.Parallel()
	_, a := startServer(t, storetest.SQLiteURL(t))
	base := startH2C(t, a)
	garbage := string([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	// A body starting "gzip:" is sent with Content-Encoding: gzip, which it is not.
	cases := []struct {
		name, path, ctype, body string
		grpc                    bool
		mention                 string // a word the message must contain
	}{
		{"malformed JSON", authv1connect.AuthServiceLoginProcedure, "application/json", `{"email":`, false, "JSON"},
		{"number for email", authv1connect.AuthServiceLoginProcedure, "application/json", `{"email":5,"password":"password1"}`, false, "email"},
		{"boolean for totpCode", authv1connect.AuthServiceLoginProcedure, "application/json", `{"email":"a@b.co","totp_code":true}`, false, "totpCode"},
		{"duplicate field", authv1connect.AuthServiceLoginProcedure, "application/json", `{"email":"a@b.co","email":"c@d.co"}`, false, "email"},
		{"null body", authv1connect.AuthServiceLoginProcedure, "application/json", `null`, false, "JSON"},
		{"JSON with charset", authv1connect.AuthServiceLoginProcedure, "application/json; charset=utf-8", `[]`, false, "JSON"},
		{"garbage protobuf", authv1connect.AuthServiceLoginProcedure, "application/proto", garbage, false, "protobuf"},
		{"invalid UTF-8 in protobuf", authv1connect.AuthServiceLoginProcedure, "application/proto", "\x0a\x02\xff\xfe", false, "UTF-8"},
		{"garbage protobuf to health", "/grpc.health.v1.Health/Check", "application/proto", garbage, false, "protobuf"},
		{"wrong JSON to health", "/grpc.health.v1.Health/Check", "application/json", `{"service":5}`, false, "service"},
		{"body that is not gzip", authv1connect.AuthServiceLoginProcedure, "application/json", "gzip:" + `{"email":"a@b.co"}`, false, "gzip"},
		{"garbage protobuf over gRPC", authv1connect.AuthServiceLoginProcedure, "application/grpc", garbage, true, "protobuf"},
		{"garbage protobuf to health over gRPC", "/grpc.health.v1.Health/Check", "application/grpc", garbage, true, "protobuf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if tc.grpc {
				body = string(envelope(0, []byte(body)))
			}
			req, _ := http.NewRequest(http.MethodPost, base+tc.path, strings.NewReader(body))
			req.Header.Set("Content-Type", tc.ctype)
			if strings.HasPrefix(tc.body, "gzip:") {
				req.Header.Set("Content-Encoding", "gzip")
			}
			res, err := h2cClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var e struct{ Code, Message string }
			if tc.grpc {
				e.Code, e.Message = res.Trailer.Get("Grpc-Status"), res.Trailer.Get("Grpc-Message")
				if e.Code == "" {
					e.Code, e.Message = res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message")
				}
				if e.Code == "3" {
					e.Code = "invalid_argument"
				}
				if m, err := url.PathUnescape(e.Message); err == nil {
					e.Message = m
				}
			} else if res.StatusCode != http.StatusBadRequest || json.Unmarshal(raw, &e) != nil {
				t.Fatalf("status %d: %s", res.StatusCode, raw)
			}
			if e.Code != "invalid_argument" {
				t.Fatalf("code %q (%q), want invalid_argument", e.Code, e.Message)
			}
			t.Logf("message: %q", e.Message)
			for _, internal := range []string{"authv1", "healthv1", "*", "proto:", "gzip:", "unmarshal into", "Request", "panguard.auth", "grpc.health", ".go", "%T"} {
				if strings.Contains(e.Message, internal) {
					t.Errorf("message %q names an internal (%q)", e.Message, internal)
				}
			}
			if !strings.Contains(e.Message, tc.mention) {
				t.Errorf("message %q does not mention %q", e.Message, tc.mention)
			}
		})
	}
	t.Run("unknown fields are still ignored", func(t *testing.T) {
		res, err := http.Post(base+authv1connect.AuthServiceLoginProcedure, "application/json",
			strings.NewReader(`{"email":"nobody@example.com","password":"password1","rememberMe":true}`))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(raw), "invalid_credentials") {
			t.Fatalf("status %d: %s", res.StatusCode, raw)
		}
	})
}
