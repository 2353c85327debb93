package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeIssuer stands in for the auth service: a JWKS with one key, and an introspection
// endpoint accepting the service key "psk_example".
type fakeIssuer struct {
	*httptest.Server
	priv ed25519.PrivateKey
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{priv: priv}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "OKP", "crv": "Ed25519", "kid": "2026-03", "alg": "EdDSA", "use": "sig",
			"x": base64.RawURLEncoding.EncodeToString(pub),
		}}})
	})
	mux.HandleFunc("POST /api/auth/introspect", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer psk_example" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"ok":false,"error":"invalid service key","code":"unauthenticated"}`)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true,"data":{"active":true,"sub":"usr_ada","sid":"ses_1","email":"ada@example.com","tier":"pro","machineLimit":null,"exp":1767225600}}`)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// token signs a session token as the auth service would, with golang-jwt.
func (f *fakeIssuer) token(t *testing.T, iss string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": iss, "aud": "panguard", "sub": "usr_ada", "sid": "ses_1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "2026-03"
	s, err := tok.SignedString(f.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serve starts the resource server against f, configured as by the command line.
func serve(t *testing.T, f *fakeIssuer, args ...string) string {
	t.Helper()
	cfg, err := parseConfig(append([]string{"-issuer", f.URL}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	v, err := newVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(v))
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, body
}

func TestResourceServer(t *testing.T) {
	f := newFakeIssuer(t)
	offline, online, badKey := serve(t, f), serve(t, f, "-service-key", "psk_example"), serve(t, f, "-service-key", "psk_wrong")
	good := f.token(t, f.URL)
	tests := []struct {
		name   string
		url    string
		token  string
		status int
		check  func(data map[string]any) bool
	}{
		{"healthz needs no token", offline + "/healthz", "", 200, nil},
		{"whoami without a token", offline + "/whoami", "", 401, nil},
		{"whoami with a token of another issuer", offline + "/whoami", f.token(t, "https://evil.example"), 401, nil},
		{"whoami with a garbage token", offline + "/whoami", "x.y.z", 401, nil},
		{"whoami offline", offline + "/whoami", good, 200, func(d map[string]any) bool {
			_, hasEmail := d["email"]
			return d["userId"] == "usr_ada" && d["sessionId"] == "ses_1" && d["introspected"] == false && !hasEmail
		}},
		{"whoami with introspection", online + "/whoami", good, 200, func(d map[string]any) bool {
			limit, hasLimit := d["machineLimit"]
			return d["userId"] == "usr_ada" && d["introspected"] == true && d["email"] == "ada@example.com" &&
				d["tier"] == "pro" && hasLimit && limit == nil
		}},
		{"whoami with a refused service key", badKey + "/whoami", good, 503, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, tt.url, tt.token)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, body)
			}
			if status != 200 {
				if body["ok"] != false || body["code"] == "" {
					t.Fatalf("error body %v", body)
				}
				return
			}
			if body["ok"] != true {
				t.Fatalf("body %v", body)
			}
			if data, _ := body["data"].(map[string]any); tt.check != nil && !tt.check(data) {
				t.Fatalf("data %v", data)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		name string
		args []string
		env  func(string) string
		want config
		err  bool
	}{
		{"from the environment", nil, env("PANGUARD_ISSUER", "http://localhost:3000", "PANGUARD_SERVICE_KEY", "psk_x", "ADDR", ":5000"),
			config{issuer: "http://localhost:3000", serviceKey: "psk_x", addr: ":5000"}, false},
		{"flags win", []string{"-issuer", "https://auth.panguard.ai", "-addr", ":6000"}, env("PANGUARD_ISSUER", "http://localhost:3000"),
			config{issuer: "https://auth.panguard.ai", addr: ":6000"}, false},
		{"the default address", nil, env("PANGUARD_ISSUER", "http://localhost:3000"), config{issuer: "http://localhost:3000", addr: ":4000"}, false},
		{"no issuer", nil, env(), config{}, true},
		{"a stray argument", []string{"serve"}, env("PANGUARD_ISSUER", "http://localhost:3000"), config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, tt.env, io.Discard)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("parseConfig = %+v, %v; want %+v (error %v)", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestRunRefusesABadConfiguration(t *testing.T) {
	var stderr strings.Builder
	if err := run(context.Background(), []string{"-h"}, func(string) string { return "" }, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "PANGUARD_ISSUER") {
		t.Fatalf("-h: %v, %q", err, stderr.String())
	}
	if err := run(context.Background(), []string{"-issuer", "auth.panguard.ai"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("an issuer without a scheme was accepted")
	}
}

func TestRunServesUntilCanceled(t *testing.T) {
	f := newFakeIssuer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logr, logw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-issuer", f.URL, "-addr", "127.0.0.1:0"}, func(string) string { return "" }, logw)
		logw.Close()
	}()
	line, err := bufio.NewReader(logr).ReadString('\n')
	go func() { _, _ = io.Copy(io.Discard, logr) }()
	addr, _, _ := strings.Cut(strings.TrimPrefix(line, "resource-server: listening on "), ",")
	if err != nil || addr == "" {
		t.Fatalf("log %q: %v", line, err)
	}
	if status, _ := get(t, "http://"+addr+"/healthz", ""); status != 200 {
		t.Fatalf("healthz: %d", status)
	}
	if status, _ := get(t, "http://"+addr+"/whoami", f.token(t, f.URL)); status != 200 {
		t.Fatalf("whoami: %d", status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
