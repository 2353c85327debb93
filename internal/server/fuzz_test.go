package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/server/restapi"
	"panguard.ai/auth/internal/storetest"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// fuzzRoutes is every operation of the contract — each REST method and path in openapi.yaml,
// each RPC of the proto — and a GET of an RPC (not allowed), derived so new operations are
// fuzzed as soon as they exist.
var fuzzRoutes = func() []struct{ method, path string } {
	var routes []struct{ method, path string }
	spec, err := restapi.GetSpec()
	if err != nil {
		panic(err)
	}
	for _, path := range spec.Paths.InMatchingOrder() {
		for method := range spec.Paths.Value(path).Operations() {
			routes = append(routes, struct{ method, path string }{method, path})
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].path+routes[i].method < routes[j].path+routes[j].method })
	methods := authv1.File_panguard_auth_v1_auth_proto.Services().ByName("AuthService").Methods()
	for i := range methods.Len() {
		routes = append(routes, struct{ method, path string }{"POST", rpcPrefix + string(methods.Get(i).Name())})
	}
	passkeys := authv1.File_panguard_auth_v1_passkey_proto.Services().ByName("PasskeyService")
	for i := range passkeys.Methods().Len() {
		routes = append(routes, struct{ method, path string }{"POST", "/" + string(passkeys.FullName()) + "/" + string(passkeys.Methods().Get(i).Name())})
	}
	routes = append(routes, struct{ method, path string }{"GET", rpcPrefix + "Me"})
	// The OAuth endpoints (outside the generated server) and the device RPCs.
	for route := range oauthOperations {
		method, path, _ := strings.Cut(route, " ")
		routes = append(routes, struct{ method, path string }{method, path})
	}
	sort.Slice(routes[len(routes)-len(oauthOperations):], func(i, j int) bool {
		tail := routes[len(routes)-len(oauthOperations):]
		return tail[i].path < tail[j].path
	})
	device := authv1.File_panguard_auth_v1_device_proto.Services().ByName("DeviceService").Methods()
	for i := range device.Len() {
		routes = append(routes, struct{ method, path string }{"POST", "/" + authv1connect.DeviceServiceName + "/" + string(device.Get(i).Name())})
	}
	return routes
}()

// oauthBodies are form bodies for the OAuth endpoints.
var oauthBodies = []string{
	``, `client_id=panguard-cli`, `client_id=panguard-cli&client_name=` + strings.Repeat("%00", 50),
	`grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=panguard-cli&device_code=` + strings.Repeat("x", 200),
	`grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=panguard-cli&device_code=%ff%fe`,
	`client_id=%zz`, `a=1&a=2&client_id=panguard-cli&client_id=other`,
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
	for i, r := range fuzzRoutes {
		if _, ok := oauthOperations[strings.ToUpper(r.method)+" "+r.path]; ok {
			for _, b := range oauthBodies {
				f.Add(uint8(i), "application/x-www-form-urlencoded", []byte(b), "Basic cGFuZ3VhcmQtY2xpOg==")
			}
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
		if strings.HasPrefix(r.path, "/oauth/") && rec.Code != http.StatusOK && rec.Code != http.StatusMethodNotAllowed {
			var e map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] == "" || e["error"] == nil {
				t.Fatalf("%s %s: not an OAuth error: %d %q", r.method, r.path, rec.Code, rec.Body)
			}
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
