package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/storetest"
)

var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/auth/register"}, {"POST", "/api/auth/login"}, {"POST", "/api/auth/logout"},
	{"GET", "/api/auth/me"}, {"POST", "/api/auth/forgot-password"}, {"POST", "/api/auth/reset-password"},
	{"POST", "/api/auth/totp/setup"}, {"POST", "/api/auth/totp/verify"}, {"POST", "/api/auth/totp/disable"},
	{"GET", "/api/auth/totp/status"}, {"POST", "/api/auth/totp/backup-codes"},
	{"POST", "/panguard.auth.v1.AuthService/Register"}, {"POST", "/panguard.auth.v1.AuthService/Login"},
	{"POST", "/panguard.auth.v1.AuthService/Me"}, {"POST", "/panguard.auth.v1.AuthService/ResetPassword"},
	{"POST", "/panguard.auth.v1.AuthService/VerifyTotp"}, {"GET", "/panguard.auth.v1.AuthService/Me"},
}

var fuzzBodies = []string{
	``, `null`, `{}`, `[]`, `"x"`, `0`, `{"email":null}`, `{"email":5,"password":true}`,
	`{"email":"a@b.co","password":"password1","totpCode":123456}`,
	`{"email":"a@b.co","password":"password1","totpCode":"123456","backupCode":"abcdefghij"}`,
	`{"email":"\u0000@b.co","name":"\u0000","password":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000"}`,
	"{\"email\":\"\xff\xfe@b.co\",\"name\":\"\xc3\",\"password\":\"\xff\xff\xff\xff\xff\xff\xff\xff\"}",
	`{"token":"rst_` + strings.Repeat("0", 64) + `","newPassword":"newpassword"}`,
	`{"name":"` + strings.Repeat("a", 10000) + `"}`,
	strings.Repeat(`{"a":`, 3000) + strings.Repeat(`}`, 3000),
	strings.Repeat(`[`, 100000),
	`{"email":"a@b.co","email":"c@d.co"}`,
}

// FuzzHTTP sends arbitrary requests to every REST and Connect operation: none may answer
// 5xx, hang or panic, and every REST answer is a JSON envelope.
func FuzzHTTP(f *testing.F) {
	cfg := testConfig(storetest.SQLiteURL(f))
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.store.Close() })
	for i := range fuzzRoutes {
		for _, b := range fuzzBodies {
			f.Add(uint8(i), "application/json", []byte(b), "")
		}
	}
	f.Add(uint8(3), "", []byte{}, "Bearer eyJhbGciOiJub25lIn0.eyJzaWQiOiJ4In0.")
	f.Add(uint8(0), "text/plain; charset=\xff", []byte("{}"), "Bearer \x00")
	f.Add(uint8(11), "application/proto", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, "")
	f.Fuzz(func(t *testing.T, route uint8, ctype string, body []byte, authz string) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
		if ctype != "" {
			req.Header["Content-Type"] = []string{ctype}
		}
		if authz != "" {
			req.Header["Authorization"] = []string{authz}
		}
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		a.handler.ServeHTTP(rec, req.WithContext(ctx))
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%q, %q): %d %s", r.method, r.path, ctype, body, rec.Code, rec.Body)
		}
		if strings.HasPrefix(r.path, "/api/") {
			var env map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env["ok"] == nil {
				t.Fatalf("%s %s: not an envelope: %d %q", r.method, r.path, rec.Code, rec.Body)
			}
			if rec.Code != http.StatusOK && (env["ok"] != false || env["code"] == "") {
				t.Fatalf("%s %s: failure without a code: %d %q", r.method, r.path, rec.Code, rec.Body)
			}
		}
	})
}
