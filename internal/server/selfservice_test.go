package server

import (
	"encoding/json"
	"strings"
	"testing"

	"panguard.ai/auth/internal/storetest"
)

// A session revoked through one replica is dead on another at once, and the export is a
// download that names no secret.
func TestRevokedSessionIsDeadOnEveryReplicaAtOnce(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		one, _ := startServer(t, dbURL)
		two, _ := startServer(t, dbURL)
		ua := "replica-test/1.0"
		st, env, _ := rawCall(t, "POST", one.URL+"/api/auth/register", "application/json", `{"email":"rep@example.com","name":"R","password":"password1"}`, "User-Agent", ua)
		if st != 200 {
			t.Fatalf("register: %d %v", st, env)
		}
		first := env["data"].(map[string]any)["token"].(string)
		_, env, _ = rawCall(t, "POST", two.URL+"/api/auth/login", "application/json", `{"email":"rep@example.com","password":"password1"}`)
		second := env["data"].(map[string]any)["token"].(string)

		st, env, _ = rawCall(t, "GET", two.URL+"/api/auth/sessions", "", "", "Authorization", "Bearer "+first)
		sessions, _ := env["data"].(map[string]any)["sessions"].([]any)
		if st != 200 || len(sessions) != 2 {
			t.Fatalf("sessions: %d %v", st, env)
		}
		var secondID string
		for _, s := range sessions {
			m := s.(map[string]any)
			if m["current"] == true {
				if m["userAgent"] != ua || m["method"] != "register" {
					t.Fatalf("current session: %v", m)
				}
				continue
			}
			secondID = m["id"].(string)
		}
		if st, env, _ := rawCall(t, "DELETE", one.URL+"/api/auth/sessions/"+secondID, "", "", "Authorization", "Bearer "+first); st != 200 {
			t.Fatalf("revoke: %d %v", st, env)
		}
		if st, env, _ := rawCall(t, "GET", two.URL+"/api/auth/me", "", "", "Authorization", "Bearer "+second); st != 401 || env["code"] != "unauthenticated" {
			t.Fatalf("revoked token on the other replica: %d %v", st, env)
		}
		if st, env, _ := rawCall(t, "DELETE", one.URL+"/api/auth/sessions/"+secondID, "", "", "Authorization", "Bearer "+first); st != 404 || env["code"] != "not_found" {
			t.Fatalf("revoking again: %d %v", st, env)
		}

		st, env, h := rawCall(t, "GET", two.URL+"/api/auth/export", "", "", "Authorization", "Bearer "+first)
		if st != 200 || h.Get("Content-Disposition") != `attachment; filename="panguard-account-export.json"` {
			t.Fatalf("export: %d %v %v", st, h, env)
		}
		data := env["data"].(map[string]any)
		if data["user"].(map[string]any)["email"] != "rep@example.com" {
			t.Fatalf("export user: %v", data["user"])
		}
		for _, secret := range []string{first, second, "password1", "argon2"} {
			if strings.Contains(strings.ToLower(stringify(env)), strings.ToLower(secret)) {
				t.Fatalf("export names a secret %q", secret)
			}
		}
	})
}

// stringify is v as JSON, for scanning a whole answer.
func stringify(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
