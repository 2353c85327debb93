package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/oauth2"

	"panguard.ai/auth/internal/storetest"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// postForm posts a form and decodes the JSON answer.
func postForm(t *testing.T, u string, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	res, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("POST %s: %d %q is not JSON", u, res.StatusCode, raw)
	}
	return res.StatusCode, body, res.Header
}

// jsonCall sends a JSON request with an optional bearer token and decodes the envelope.
func jsonCall(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, u, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %v", method, u, res.StatusCode, err)
	}
	return res.StatusCode, out
}

func registerToken(t *testing.T, base, email string) string {
	t.Helper()
	status, out := jsonCall(t, "POST", base+"/api/auth/register", "", map[string]string{"email": email, "name": "Dev", "password": "password1"})
	if status != 200 {
		t.Fatalf("register: %d %v", status, out)
	}
	return out["data"].(map[string]any)["token"].(string)
}

func deviceCode(t *testing.T, base string) map[string]any {
	t.Helper()
	status, da, _ := postForm(t, base+"/oauth/device_authorization", url.Values{"client_id": {"panguard-cli"}, "client_name": {"panguard CLI on build-box"}})
	if status != 200 {
		t.Fatalf("device authorization: %d %v", status, da)
	}
	return da
}

func pollToken(t *testing.T, base, code string) (int, map[string]any) {
	t.Helper()
	status, body, h := postForm(t, base+"/oauth/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {code}, "client_id": {"panguard-cli"},
	})
	if h.Get("Cache-Control") != "no-store" {
		t.Fatalf("token answer Cache-Control %q, want no-store", h.Get("Cache-Control"))
	}
	return status, body
}

// TestDeviceGrantOverHTTP: the OAuth endpoints answer as RFC 8628 and RFC 6749 say (form in,
// snake_case JSON and `error` bodies out), and the dashboard side works over REST and RPC.
func TestDeviceGrantOverHTTP(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		srv, _ := startServer(t, dbURL)
		base := srv.URL
		tok := registerToken(t, base, "dev@example.com")

		res, err := http.Get(base + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		var meta map[string]any
		json.NewDecoder(res.Body).Decode(&meta)
		res.Body.Close()
		if meta["issuer"] != "http://panguard.test" || meta["device_authorization_endpoint"] != "http://panguard.test/oauth/device_authorization" ||
			meta["token_endpoint"] != "http://panguard.test/oauth/token" || meta["jwks_uri"] != "http://panguard.test/.well-known/jwks.json" ||
			meta["introspection_endpoint"] != "http://panguard.test/api/auth/introspect" {
			t.Fatalf("metadata %v", meta)
		}

		errCases := []struct {
			name   string
			path   string
			form   url.Values
			status int
			want   string
		}{
			{"unknown client", "/oauth/device_authorization", url.Values{"client_id": {"evil"}}, 401, "invalid_client"},
			{"no client", "/oauth/device_authorization", url.Values{}, 401, "invalid_client"},
			{"client name too long", "/oauth/device_authorization", url.Values{"client_id": {"panguard-cli"}, "client_name": {strings.Repeat("x", 101)}}, 400, "invalid_request"},
			{"other grant type", "/oauth/token", url.Values{"grant_type": {"password"}, "client_id": {"panguard-cli"}}, 400, "unsupported_grant_type"},
			{"unknown device code", "/oauth/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"x"}, "client_id": {"panguard-cli"}}, 400, "invalid_grant"},
			{"token for unknown client", "/oauth/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"x"}, "client_id": {"evil"}}, 401, "invalid_client"},
		}
		for _, c := range errCases {
			status, body, _ := postForm(t, base+c.path, c.form)
			if status != c.status || body["error"] != c.want {
				t.Errorf("%s: %d %v, want %d %s", c.name, status, body, c.status, c.want)
			}
			if _, ok := body["ok"]; ok {
				t.Errorf("%s: an envelope, not an OAuth error: %v", c.name, body)
			}
		}
		res, err = http.Post(base+"/oauth/token", "application/json", strings.NewReader(`{"grant_type":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 415 {
			t.Errorf("JSON body: %d, want 415", res.StatusCode)
		}
		res, err = http.Get(base + "/oauth/token")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 405 {
			t.Errorf("GET /oauth/token: %d, want 405", res.StatusCode)
		}
		if status, body, _ := postForm(t, base+"/oauth/device_authorization", url.Values{"client_id": {"panguard-cli"}, "pad": {strings.Repeat("a", 70<<10)}}); status != 413 || body["error"] != "invalid_request" {
			t.Errorf("a body over 64 KiB: %d %v, want 413 invalid_request", status, body)
		}

		da := deviceCode(t, base)
		userCode := da["user_code"].(string)
		if da["verification_uri"] != "http://panguard.test/device" || da["verification_uri_complete"] != "http://panguard.test/device?code="+userCode ||
			da["expires_in"] != 600.0 || da["interval"] != 5.0 {
			t.Fatalf("device authorization answer %v", da)
		}
		if status, body := pollToken(t, base, da["device_code"].(string)); status != 400 || body["error"] != "authorization_pending" {
			t.Fatalf("first poll: %d %v", status, body)
		}
		if status, body := pollToken(t, base, da["device_code"].(string)); status != 400 || body["error"] != "slow_down" {
			t.Fatalf("second poll at once: %d %v", status, body)
		}

		status, out := jsonCall(t, "GET", base+"/api/auth/device?userCode="+url.QueryEscape(strings.ToLower(userCode)), tok, nil)
		data, _ := out["data"].(map[string]any)
		if status != 200 || data["clientName"] != "panguard CLI on build-box" || data["ip"] != "127.0.0.1" || data["userCode"] != userCode {
			t.Fatalf("lookup: %d %v", status, out)
		}
		if status, out := jsonCall(t, "GET", base+"/api/auth/device?userCode=BBBB-BBBB", tok, nil); status != 404 || out["code"] != "not_found" {
			t.Fatalf("lookup of an unknown code: %d %v", status, out)
		}
		if status, out := jsonCall(t, "GET", base+"/api/auth/device?userCode="+userCode, "", nil); status != 401 {
			t.Fatalf("lookup without a token: %d %v", status, out)
		}
		rpc := authv1connect.NewDeviceServiceClient(http.DefaultClient, base)
		req := connect.NewRequest(&authv1.ApproveDeviceRequest{UserCode: userCode, Approve: true})
		req.Header().Set("Authorization", "Bearer "+tok)
		if _, err := rpc.ApproveDevice(context.Background(), req); err != nil {
			t.Fatalf("approve over RPC: %v", err)
		}
		req = connect.NewRequest(&authv1.ApproveDeviceRequest{UserCode: userCode, Approve: true})
		req.Header().Set("Authorization", "Bearer "+tok)
		if _, err := rpc.ApproveDevice(context.Background(), req); connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("approving twice over RPC: %v", err)
		}
		// The server's interval is now 10 s after the slow_down; the test cannot wait that long
		// on a real clock, so the domain tests cover the pacing and this one a fresh grant.
		da2 := deviceCode(t, base)
		status, out = jsonCall(t, "POST", base+"/api/auth/device/approve", tok, map[string]any{"userCode": strings.ReplaceAll(da2["user_code"].(string), "-", ""), "approve": true})
		if status != 200 || out["data"].(map[string]any)["message"] == "" {
			t.Fatalf("approve over REST: %d %v", status, out)
		}
		status, body := pollToken(t, base, da2["device_code"].(string))
		if status != 200 || body["token_type"] != "Bearer" || body["expires_in"] != 86400.0 || body["access_token"] == "" {
			t.Fatalf("token: %d %v", status, body)
		}
		status, out = jsonCall(t, "GET", base+"/api/auth/me", body["access_token"].(string), nil)
		if status != 200 || out["data"].(map[string]any)["email"] != "dev@example.com" {
			t.Fatalf("me with the device token: %d %v", status, out)
		}
		status, out = jsonCall(t, "GET", base+"/api/auth/sessions", tok, nil)
		var device int
		for _, s := range out["data"].(map[string]any)["sessions"].([]any) {
			s := s.(map[string]any)
			if s["method"] == "device" && s["userAgent"] == "panguard CLI on build-box" {
				device++
			}
		}
		if status != 200 || device != 1 {
			t.Fatalf("sessions: want one device session named after the client: %v", out)
		}
		if status, body := pollToken(t, base, da2["device_code"].(string)); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("a used code: %d %v", status, body)
		}
		// Metrics name the OAuth operations like the generated ones.
		res, err = http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, want := range []string{`operation="DeviceToken",transport="rest"`, `operation="DeviceAuthorization",reason="invalid_client"`} {
			if !strings.Contains(string(metrics), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		// Denied over REST.
		da3 := deviceCode(t, base)
		if status, out := jsonCall(t, "POST", base+"/api/auth/device/approve", tok, map[string]any{"userCode": da3["user_code"], "approve": false}); status != 200 {
			t.Fatalf("deny: %d %v", status, out)
		}
		if status, body := pollToken(t, base, da3["device_code"].(string)); status != 400 || body["error"] != "access_denied" {
			t.Fatalf("a denied code: %d %v", status, body)
		}
	})
}

// TestDeviceGrantWithGolangOAuth2 drives the whole grant with golang.org/x/oauth2's device
// flow client, unmodified: discovery of nothing but the two endpoints, DeviceAuth, then
// DeviceAccessToken polling until the user approves.
func TestDeviceGrantWithGolangOAuth2(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, storetest.SQLiteURL(t))
	base := srv.URL
	tok := registerToken(t, base, "interop@example.com")
	cfg := &oauth2.Config{
		ClientID: "panguard-cli",
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: base + "/oauth/device_authorization", TokenURL: base + "/oauth/token",
			// A public client: client_id in the form (RFC 6749 §2.3.1, "none" in the metadata).
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_name", "interop test"))
	if err != nil {
		t.Fatal(err)
	}
	if da.VerificationURIComplete == "" || da.Interval != 5 || time.Until(da.Expiry) < 9*time.Minute {
		t.Fatalf("device auth response %+v", da)
	}
	go func() {
		// The user approves a moment after the CLI starts polling (t.Fatal is not for this goroutine).
		time.Sleep(time.Second)
		req, _ := http.NewRequest("POST", base+"/api/auth/device/approve", strings.NewReader(`{"userCode":"`+da.UserCode+`","approve":true}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("approve: %d", res.StatusCode)
		}
	}()
	token, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatalf("DeviceAccessToken: %v", err)
	}
	if token.TokenType != "Bearer" || token.AccessToken == "" || time.Until(token.Expiry) < 23*time.Hour {
		t.Fatalf("token %+v", token)
	}
	if status, out := jsonCall(t, "GET", base+"/api/auth/me", token.AccessToken, nil); status != 200 {
		t.Fatalf("me: %d %v", status, out)
	}
	// A denied grant surfaces as the RFC's access_denied through the library.
	da, err = cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jsonCall(t, "POST", base+"/api/auth/device/approve", tok, map[string]any{"userCode": da.UserCode, "approve": false})
	_, err = cfg.DeviceAccessToken(ctx, da)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "access_denied" {
		t.Fatalf("denied: %v", err)
	}
}

// TestDeviceGrantYieldsOneSessionAcrossReplicas: two service instances on one PostgreSQL
// database (two replicas), 16 pollers of one approved code split between them: one token.
func TestDeviceGrantYieldsOneSessionAcrossReplicas(t *testing.T) {
	t.Parallel()
	if !storetest.PostgresAvailable(t) {
		t.Skip("needs PostgreSQL (PANGUARD_TEST_POSTGRES_URL)")
	}
	dbURL := storetest.PostgresURL(t)
	a, _ := startServer(t, dbURL)
	b, _ := startServer(t, dbURL)
	tok := registerToken(t, a.URL, "replicas@example.com")
	for round := range 3 {
		da := deviceCode(t, a.URL)
		if status, out := jsonCall(t, "POST", b.URL+"/api/auth/device/approve", tok, map[string]any{"userCode": da["user_code"], "approve": true}); status != 200 {
			t.Fatalf("approve: %d %v", status, out)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		tokens, answers := 0, map[string]int{}
		for i := range 16 {
			base := a.URL
			if i%2 == 1 {
				base = b.URL
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := http.PostForm(base+"/oauth/token", url.Values{
					"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da["device_code"].(string)}, "client_id": {"panguard-cli"},
				})
				if err != nil {
					t.Error(err)
					return
				}
				defer res.Body.Close()
				var body map[string]any
				json.NewDecoder(res.Body).Decode(&body)
				mu.Lock()
				defer mu.Unlock()
				if res.StatusCode == 200 {
					tokens++
				} else {
					answers[body["error"].(string)]++
				}
			}()
		}
		wg.Wait()
		if tokens != 1 {
			t.Fatalf("round %d: %d tokens from 16 pollers on two replicas, want 1 (others: %v)", round, tokens, answers)
		}
	}
	status, out := jsonCall(t, "GET", a.URL+"/api/auth/sessions", tok, nil)
	if n := len(out["data"].(map[string]any)["sessions"].([]any)); status != 200 || n != 4 {
		t.Fatalf("%d sessions, want the registration's and 3 device ones", n)
	}
}
