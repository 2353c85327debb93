package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

func TestCORSOnlyForConfiguredOrigins(t *testing.T) {
	cfg := testConfig(storetest.SQLiteURL(t))
	cfg.CORSOrigins = []string{"https://dashboard.panguard.test"}
	a, err := newApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.store.Close() })
	srv := httptest.NewServer(a.handler)
	t.Cleanup(srv.Close)
	preflight := func(origin string) http.Header {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/panguard.auth.v1.AuthService/Login", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.Header
	}
	if h := preflight("https://dashboard.panguard.test"); h.Get("Access-Control-Allow-Origin") != "https://dashboard.panguard.test" ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Fatalf("allowed origin preflight: %v", h)
	}
	if h := preflight("https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin got CORS: %v", h)
	}
}

func TestServesItsOwnContract(t *testing.T) {
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
