package verify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"panguard.ai/auth/sdk/verify"
)

func TestMiddleware(t *testing.T) {
	iss := newIssuer(t, "k1")
	down := newIssuer(t, "k1")
	down.setJWKS(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	handler := func(v *verify.Verifier) http.Handler {
		return v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := verify.CallerFrom(r.Context())
			if !ok {
				t.Error("no Caller in the context")
			}
			_, _ = w.Write([]byte(c.UserID + " " + c.SessionID))
		}))
	}
	tests := []struct {
		name     string
		handler  http.Handler
		auth     []string
		status   int
		body     string // the answer on success, the code otherwise
		wwwAuthn string
	}{
		{"a valid token", handler(iss.verifier(t, nil)), []string{"Bearer " + iss.token("k1", nil)}, 200, "usr_ada ses_1", ""},
		{"the scheme in lower case", handler(iss.verifier(t, nil)), []string{"bearer " + iss.token("k1", nil)}, 200, "usr_ada ses_1", ""},
		{"no Authorization", handler(iss.verifier(t, nil)), nil, 401, "unauthenticated", "Bearer"},
		{"Basic", handler(iss.verifier(t, nil)), []string{"Basic YTpi"}, 401, "unauthenticated", "Bearer"},
		{"an empty bearer", handler(iss.verifier(t, nil)), []string{"Bearer "}, 401, "unauthenticated", "Bearer"},
		{"a forged token", handler(iss.verifier(t, nil)), []string{"Bearer " + iss.token("k1", func(h, _ map[string]any) { h["alg"] = "none" })}, 401, "unauthenticated", `Bearer error="invalid_token"`},
		{"two Authorization headers", handler(iss.verifier(t, nil)), []string{"Bearer " + iss.token("k1", nil), "Bearer x"}, 401, "unauthenticated", `Bearer error="invalid_token"`},
		{"keys unreachable", handler(down.verifier(t, nil)), []string{"Bearer " + down.token("k1", nil)}, 503, "unavailable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/whoami", nil)
			for _, a := range tt.auth {
				r.Header.Add("Authorization", a)
			}
			w := httptest.NewRecorder()
			tt.handler.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wwwAuthn {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.wwwAuthn)
			}
			if tt.status == 200 {
				if w.Body.String() != tt.body {
					t.Fatalf("body %q", w.Body)
				}
				return
			}
			var env struct {
				OK    *bool  `json:"ok"`
				Error string `json:"error"`
				Code  string `json:"code"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.OK == nil || *env.OK || env.Code != tt.body || env.Error == "" ||
				!strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("body %s (%v)", w.Body, err)
			}
		})
	}
}

func TestInterceptor(t *testing.T) {
	iss := newIssuer(t, "k1")
	down := newIssuer(t, "k1")
	down.setJWKS(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	const procedure = "/test.v1.WhoService/Who"
	serve := func(v *verify.Verifier) string {
		mux := http.NewServeMux()
		mux.Handle(procedure, connect.NewUnaryHandler(procedure,
			func(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[wrapperspb.StringValue], error) {
				c, ok := verify.CallerFrom(ctx)
				if !ok {
					return nil, errors.New("no Caller in the context")
				}
				return connect.NewResponse(wrapperspb.String(c.UserID + " " + c.SessionID)), nil
			}, connect.WithInterceptors(v.Interceptor())))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	up, unreachable := serve(iss.verifier(t, nil)), serve(down.verifier(t, nil))
	tests := []struct {
		name  string
		url   string
		auth  string
		want  connect.Code // 0: success
		wantC string
	}{
		{"a valid token", up, "Bearer " + iss.token("k1", nil), 0, "usr_ada ses_1"},
		{"no token", up, "", connect.CodeUnauthenticated, ""},
		{"an expired token", up, "Bearer " + iss.token("k1", func(_, c map[string]any) { c["exp"] = 1 }), connect.CodeUnauthenticated, ""},
		{"another issuer's token", up, "Bearer " + down.token("k1", nil), connect.CodeUnauthenticated, ""},
		{"keys unreachable", unreachable, "Bearer " + down.token("k1", nil), connect.CodeUnavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](http.DefaultClient, tt.url+procedure)
			req := connect.NewRequest(&emptypb.Empty{})
			if tt.auth != "" {
				req.Header().Set("Authorization", tt.auth)
			}
			res, err := client.CallUnary(context.Background(), req)
			if tt.want == 0 {
				if err != nil || res.Msg.GetValue() != tt.wantC {
					t.Fatalf("CallUnary = %v, %v", res, err)
				}
				return
			}
			if connect.CodeOf(err) != tt.want {
				t.Fatalf("CallUnary: %v, want %v", err, tt.want)
			}
		})
	}
}
