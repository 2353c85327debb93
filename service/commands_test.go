package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/storetest"
)

// runCLI runs the service binary with args and env (besides PATH) in a temporary directory,
// so a command that wrongly fell back to the default database leaves nothing behind, and
// returns its exit status and output.
func runCLI(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, serviceBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "PANGUARD_LOG_LEVEL=warn"}, env...)
	cmd.Dir = t.TempDir()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run %q: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// leaves lists every runnable command's path and synopsis, from the command table itself
// so a new command cannot miss its usage test.
func leaves(c *command, path []string) (paths [][]string, synopses []string) {
	for _, s := range c.subs {
		p := slices.Concat(path, []string{s.name})
		if s.subs != nil {
			ps, ss := leaves(s, p)
			paths, synopses = append(paths, ps...), append(synopses, ss...)
			continue
		}
		paths = append(paths, p)
		synopses = append(synopses, strings.Join(slices.Concat([]string{progName}, p, s.args), " "))
	}
	return paths, synopses
}

func TestHelpListsEveryCommandAndEachCommandHasItsOwn(t *testing.T) {
	t.Parallel()
	env := []string{"PANGUARD_DATABASE_URL=" + storetest.SQLiteURL(t)}
	paths, synopses := leaves(root, nil)
	if len(paths) < 8 {
		t.Fatalf("only %d commands in the table", len(paths))
	}
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		code, out, errOut := runCLI(t, env, args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: panguard-auth [COMMAND]") {
			t.Fatalf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		for _, p := range paths {
			if !strings.Contains(out, "  "+strings.Join(p, " ")) {
				t.Errorf("%q does not list %q:\n%s", args, p, out)
			}
		}
	}
	for i, p := range paths {
		for _, h := range []string{"-h", "--help"} {
			args := append(slices.Clone(p), h)
			code, out, errOut := runCLI(t, env, args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: "+synopses[i]+"\n") {
				t.Errorf("%q: exit %d, stdout %q, stderr %q; want the usage %q", args, code, out, errOut, synopses[i])
			}
		}
	}
	for _, tc := range []struct {
		args       []string
		wantUsage  string
		wantListed string
	}{
		{[]string{"migrate", "-h"}, "Usage: panguard-auth migrate COMMAND\n", "  migrate down N "},
		{[]string{"admin", "--help"}, "Usage: panguard-auth admin COMMAND\n", "  admin revoke EMAIL "},
		{[]string{"help", "admin"}, "Usage: panguard-auth admin COMMAND\n", "  admin grant EMAIL "},
		{[]string{"help", "migrate", "down"}, "Usage: panguard-auth migrate down N\n", "at least 1"},
	} {
		code, out, errOut := runCLI(t, env, tc.args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, tc.wantUsage) || !strings.Contains(out, tc.wantListed) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
	}
}

func TestWrongInvocationsPrintUsageAndExit2(t *testing.T) {
	t.Parallel()
	env := []string{"PANGUARD_DATABASE_URL=" + storetest.SQLiteURL(t)}
	for _, tc := range []struct {
		name      string
		args      []string
		wantError string
		wantUsage string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`, "Usage: panguard-auth [COMMAND]"},
		{"unknown help topic", []string{"help", "frobnicate"}, `unknown command "frobnicate"`, "Usage: panguard-auth [COMMAND]"},
		{"group without command", []string{"migrate"}, "missing command", "Usage: panguard-auth migrate COMMAND"},
		{"unknown migrate command", []string{"migrate", "sideways"}, `unknown command "sideways"`, "Usage: panguard-auth migrate COMMAND"},
		{"unknown flag", []string{"version", "-verbose"}, "-verbose", "Usage: panguard-auth version"},
		{"extra argument", []string{"serve", "now"}, "takes 0 argument", "Usage: panguard-auth serve"},
		{"down without N", []string{"migrate", "down"}, "takes 1 argument", "Usage: panguard-auth migrate down N"},
		{"down 0", []string{"migrate", "down", "0"}, "at least 1", "Usage: panguard-auth migrate down N"},
		{"down not a number", []string{"migrate", "down", "two"}, "at least 1", "Usage: panguard-auth migrate down N"},
		{"grant without email", []string{"admin", "grant"}, "takes 1 argument", "Usage: panguard-auth admin grant EMAIL"},
		{"revoke two emails", []string{"admin", "revoke", "a@example.com", "b@example.com"}, "takes 1 argument", "Usage: panguard-auth admin revoke EMAIL"},
		{"rotate with an argument", []string{"encryption-key", "rotate", "now"}, "takes 0 argument", "Usage: panguard-auth encryption-key rotate"},
		{"healthcheck with an argument", []string{"healthcheck", "127.0.0.1"}, "takes 0 argument", "Usage: panguard-auth healthcheck"},
		{"retry without ID or --all", []string{"outbox", "retry"}, "give one ID, or --all", "Usage: panguard-auth outbox retry ID|--all"},
		{"retry with an ID and --all", []string{"outbox", "retry", "--all", "obx_1"}, "not both", "Usage: panguard-auth outbox retry ID|--all"},
		{"retry with two IDs", []string{"outbox", "retry", "obx_1", "obx_2"}, "give one ID, or --all", "Usage: panguard-auth outbox retry ID|--all"},
		{"retry with an unknown flag", []string{"outbox", "retry", "--everything"}, "-everything", "Usage: panguard-auth outbox retry ID|--all"},
		{"failed with an argument", []string{"outbox", "failed", "obx_1"}, "takes 0 argument", "Usage: panguard-auth outbox failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, env, tc.args...)
			if code != 2 || out != "" || !strings.Contains(errOut, tc.wantError) || !strings.Contains(errOut, tc.wantUsage+"\n") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %q with %q", code, out, errOut, tc.wantError, tc.wantUsage)
			}
		})
	}
}

// embeddedMigrations are the migration names, oldest first, from the source tree.
func embeddedMigrations(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../internal/store/migrations/*.tx.up.sql")
	if err != nil || len(files) < 2 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".tx.up.sql"))
	}
	return names
}

// parseStatus reads `migrate status`: the names in order, and which are pending.
func parseStatus(t *testing.T, out string) (names, pending []string) {
	t.Helper()
	for line := range strings.Lines(strings.TrimSpace(out)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			t.Fatalf("status line %q", line)
		}
		names = append(names, f[0])
		switch f[1] {
		case "pending":
			pending = append(pending, f[0])
			if f[2] != "-" {
				t.Fatalf("pending with a time: %q", line)
			}
		case "applied":
			if _, err := time.Parse(time.RFC3339, f[2]); err != nil {
				t.Fatalf("applied without a time: %q", line)
			}
		default:
			t.Fatalf("status line %q", line)
		}
	}
	return names, pending
}

func TestMigrateCommandsApplyRollBackAndReport(t *testing.T) {
	t.Parallel()
	all := embeddedMigrations(t)
	last := all[len(all)-1]
	storetest.Each(t, func(t *testing.T, dbURL string) {
		env := []string{"PANGUARD_DATABASE_URL=" + dbURL}
		// Each step runs against the database the steps before it left.
		for _, step := range []struct {
			name        string
			args        []string
			wantCode    int
			wantOut     string
			wantErr     string
			wantPending []string
		}{
			{"status of an empty database lists every migration pending", []string{"migrate", "status"}, 0, all[0], "", all},
			{"up applies them all", []string{"migrate", "up"}, 0, "applied " + last, "", nil},
			{"up again has nothing to do", []string{"migrate", "up"}, 0, "nothing to apply", "", nil},
			{"down 1 rolls back only the last", []string{"migrate", "down", "1"}, 0, "rolled back " + last, "", []string{last}},
			{"up re-applies it", []string{"migrate", "up"}, 0, "applied " + last, "", nil},
			{"down 999 is refused", []string{"migrate", "down", "999"}, 1, "", "nothing was rolled back", nil},
			{"down to nothing", []string{"migrate", "down", strconv.Itoa(len(all))}, 0, "rolled back " + all[0], "", all},
			{"up from nothing", []string{"migrate", "up"}, 0, "applied " + all[0], "", nil},
		} {
			code, out, errOut := runCLI(t, env, step.args...)
			if code != step.wantCode || !strings.Contains(out, step.wantOut) || !strings.Contains(errOut, step.wantErr) {
				t.Fatalf("%s: exit %d, stdout %q, stderr %q", step.name, code, out, errOut)
			}
			code, out, errOut = runCLI(t, env, "migrate", "status")
			if code != 0 {
				t.Fatalf("%s: status: exit %d, %s", step.name, code, errOut)
			}
			names, pending := parseStatus(t, out)
			if !slices.Equal(names, all) || !slices.Equal(pending, step.wantPending) {
				t.Fatalf("%s: status lists %q with %q pending, want %q pending", step.name, names, pending, step.wantPending)
			}
		}
	})
}

func TestAdminGrantAndRevokeChangeTheRoleTheAPIReports(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		env := []string{"PANGUARD_DATABASE_URL=" + dbURL}
		p := startProcess(t, env...)
		ctx := context.Background()
		tokens := map[string]string{}
		for _, email := range []string{"alice@example.com", "bob@example.com"} {
			reg, err := client(t, p.base).Register(ctx, email, "N", "password1")
			if err != nil || reg.Session == nil {
				t.Fatalf("register %s: %v", email, err)
			}
			tokens[email] = reg.Session.Token
		}
		roles := func() map[string]string {
			got := map[string]string{}
			for email, tok := range tokens {
				me, err := client(t, p.base).WithToken(tok).Me(ctx)
				if err != nil {
					t.Fatalf("me %s: %v", email, err)
				}
				got[email] = me.Role
			}
			return got
		}
		// Each step runs on the accounts as the steps before it left them.
		for _, step := range []struct {
			name      string
			args      []string
			wantCode  int
			wantOut   string
			wantErr   string
			wantAlice string
			wantBob   string
		}{
			{"grant to an unknown email fails", []string{"admin", "grant", "nobody@example.com"}, 1, "", "no account has the email nobody@example.com", "user", "user"},
			{"grant to a malformed email fails", []string{"admin", "grant", "not-an-email"}, 1, "", "valid email", "user", "user"},
			{"grant makes an admin", []string{"admin", "grant", "alice@example.com"}, 0, "alice@example.com is now an admin (usr_", "", "admin", "user"},
			{"grant matches the email in any case", []string{"admin", "grant", "Alice@Example.com"}, 0, "alice@example.com is now an admin", "", "admin", "user"},
			{"revoking the last admin is refused", []string{"admin", "revoke", "alice@example.com"}, 1, "", "last admin", "admin", "user"},
			{"a second admin", []string{"admin", "grant", "bob@example.com"}, 0, "bob@example.com is now an admin", "", "admin", "admin"},
			{"revoke then succeeds", []string{"admin", "revoke", "alice@example.com"}, 0, "alice@example.com is no longer an admin", "", "user", "admin"},
			{"revoke of an unknown email fails", []string{"admin", "revoke", "nobody@example.com"}, 1, "", "no account", "user", "admin"},
		} {
			code, out, errOut := runCLI(t, env, step.args...)
			if code != step.wantCode || !strings.Contains(out, step.wantOut) || !strings.Contains(errOut, step.wantErr) {
				t.Fatalf("%s: exit %d, stdout %q, stderr %q", step.name, code, out, errOut)
			}
			// Domain errors reach the operator as their message, not as Go's error text.
			if strings.Contains(errOut, "panguard-auth: auth: ") {
				t.Fatalf("%s: internal error text on stderr: %q", step.name, errOut)
			}
			if got := roles(); got["alice@example.com"] != step.wantAlice || got["bob@example.com"] != step.wantBob {
				t.Fatalf("%s: roles %v, want alice %s and bob %s", step.name, got, step.wantAlice, step.wantBob)
			}
		}
	})
}

func TestServingIsTheDefaultAndPassesTheHealthcheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{{"no arguments", nil}, {"serve", []string{"serve"}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startCommand(t, tc.args, "PANGUARD_DATABASE_URL="+storetest.SQLiteURL(t))
			addr := strings.TrimPrefix(p.base, "http://")
			port := addr[strings.LastIndexByte(addr, ':')+1:]
			// The instance listens on 127.0.0.1; the unspecified forms must find it there.
			for _, a := range []string{addr, ":" + port, "0.0.0.0:" + port} {
				code, out, errOut := runCLI(t, []string{"PANGUARD_ADDR=" + a}, "healthcheck")
				if code != 0 || !strings.Contains(out, "ready: http://127.0.0.1:"+port+"/readyz answered 200") {
					t.Fatalf("healthcheck with PANGUARD_ADDR=%s: exit %d, stdout %q, stderr %q", a, code, out, errOut)
				}
			}
		})
	}
}

func TestHealthcheckFailsUnlessTheInstanceAnswers200(t *testing.T) {
	t.Parallel()
	answer := func(status int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/readyz" {
				http.NotFound(w, r)
				return
			}
			if status == http.StatusFound {
				http.Redirect(w, r, "/elsewhere", status)
				return
			}
			w.WriteHeader(status)
			w.Write([]byte(`{"status":"draining"}`))
		})
	}
	hang := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	addrOf := func(s *httptest.Server) string {
		return strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
	}
	tlsEnv := []string{"PANGUARD_TLS_CERT_FILE=/nonexistent/cert.pem", "PANGUARD_TLS_KEY_FILE=/nonexistent/key.pem"}
	for _, tc := range []struct {
		name     string
		server   func() *httptest.Server // nil: nothing listens
		env      []string
		wantCode int
		want     string
	}{
		{"nothing listening", nil, nil, 1, "connection refused"},
		{"not ready", func() *httptest.Server { return httptest.NewServer(answer(503)) }, nil, 1, "503 Service Unavailable: {\"status\":\"draining\"}"},
		{"a redirect", func() *httptest.Server { return httptest.NewServer(answer(302)) }, nil, 1, "302"},
		{"no answer within 2 seconds", func() *httptest.Server { return httptest.NewServer(hang) }, nil, 1, "Timeout"},
		{"ready over TLS", func() *httptest.Server { return httptest.NewTLSServer(answer(200)) }, tlsEnv, 0, "ready: https://127.0.0.1:"},
		{"plain HTTP to a TLS instance", func() *httptest.Server { return httptest.NewTLSServer(answer(200)) }, nil, 1, "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := freePort(t)
			if tc.server != nil {
				s := tc.server()
				t.Cleanup(s.Close)
				addr = addrOf(s)
			}
			start := time.Now()
			code, out, errOut := runCLI(t, append([]string{"PANGUARD_ADDR=" + addr}, tc.env...), "healthcheck")
			if code != tc.wantCode || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.wantCode, tc.want)
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Fatalf("healthcheck took %v", d)
			}
		})
	}
}

func TestReadyURLReachesTheLocalInstance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr  string
		https bool
		want  string
	}{
		{":3000", false, "http://127.0.0.1:3000/readyz"},
		{"0.0.0.0:3000", false, "http://127.0.0.1:3000/readyz"},
		{"[::]:3000", false, "http://[::1]:3000/readyz"},
		{"127.0.0.1:8080", true, "https://127.0.0.1:8080/readyz"},
		{"10.1.2.3:3000", false, "http://10.1.2.3:3000/readyz"},
		{"localhost:3000", false, "http://localhost:3000/readyz"},
		{":0", false, ""},
		{":http", false, ""},
		{"3000", false, ""},
	} {
		got, err := readyURL(tc.addr, tc.https)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("readyURL(%q, %v) = %q, %v; want %q", tc.addr, tc.https, got, err, tc.want)
		}
	}
}

func TestVersionPrintsWhatTheBuildKnows(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, nil, "version")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "panguard-auth ") || !strings.Contains(out, "go1.") || !strings.Contains(out, "panguard.ai/auth") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestVersionTextFallsBackForWhatIsMissing(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Path: "panguard.ai/auth", Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
	}}
	devel := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Path: "panguard.ai/auth", Version: "(devel)"}}
	for _, tc := range []struct {
		name    string
		version string
		bi      *debug.BuildInfo
		want    []string
	}{
		{"no build info", "", nil, []string{"panguard-auth devel\n", "revision: unknown\n", "go:       go1."}},
		{"built from source without VCS stamping", "", devel, []string{"panguard-auth devel\n", "module:   panguard.ai/auth (devel)\n", "revision: unknown\n", "go:       go1.99 "}},
		{"module version and VCS", "", vcs, []string{"panguard-auth v1.4.0\n", "revision: abc123 (modified) at 2026-01-02T03:04:05Z\n"}},
		{"-X main.version wins", "v2.0.0-3-gdeadbee-dirty", vcs, []string{"panguard-auth v2.0.0-3-gdeadbee-dirty\n", "module:   panguard.ai/auth v1.4.0\n"}},
	} {
		got := versionText(tc.version, tc.bi, tc.bi != nil)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
	}
}

func TestKeysAndServiceKeysCommandsAgainstARunningInstance(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		env := []string{"PANGUARD_DATABASE_URL=" + dbURL}
		p := startProcess(t, env...)
		jwks := func() map[string]bool {
			res, err := http.Get(p.base + "/.well-known/jwks.json")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var set struct {
				Keys []struct {
					Kid string `json:"kid"`
				} `json:"keys"`
			}
			if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, k := range set.Keys {
				out[k.Kid] = true
			}
			return out
		}
		before := jwks()
		if len(before) != 1 {
			t.Fatalf("JWKS of a new instance: %v", before)
		}
		code, out, errOut := runCLI(t, env, "keys", "rotate")
		m := regexp.MustCompile(`published key (k[0-9a-f]{16}) \(generation 2\); it signs new tokens from `).FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("keys rotate: exit %d %q %q", code, out, errOut)
		}
		// The running instance publishes it within its JWKS freshness, long before it signs.
		deadline := time.Now().Add(15 * time.Second)
		for !jwks()[m[1]] {
			if time.Now().After(deadline) {
				t.Fatalf("new key %s not in the running instance's JWKS: %v", m[1], jwks())
			}
			time.Sleep(500 * time.Millisecond)
		}
		if code, out, _ := runCLI(t, env, "keys", "list"); code != 0 || !strings.Contains(out, "signing") || !strings.Contains(out, "published, signs soon") {
			t.Fatalf("keys list: %q", out)
		}

		code, key, errOut := runCLI(t, env, "service-key", "create", "threat-cloud")
		key = strings.TrimSpace(key)
		if code != 0 || !regexp.MustCompile(`^psk_[0-9a-f]{64}$`).MatchString(key) || !strings.Contains(errOut, "shown this once") {
			t.Fatalf("service-key create: exit %d %q %q", code, key, errOut)
		}
		if code, _, errOut := runCLI(t, env, "service-key", "create", "threat-cloud"); code != 1 || !strings.Contains(errOut, "exists") {
			t.Fatalf("duplicate name: exit %d %q", code, errOut)
		}
		if code, out, _ := runCLI(t, env, "service-key", "list"); code != 0 || !strings.Contains(out, "threat-cloud") || !strings.Contains(out, key[:10]) || strings.Contains(out, key) {
			t.Fatalf("service-key list: %q", out)
		}
		introspect := func() int {
			req, _ := http.NewRequest(http.MethodPost, p.base+"/api/auth/introspect", strings.NewReader(`{"token":"x"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if st := introspect(); st != 200 {
			t.Fatalf("introspect with the new key: %d", st)
		}
		if code, out, _ := runCLI(t, env, "service-key", "revoke", "threat-cloud"); code != 0 || !strings.Contains(out, "revoked") {
			t.Fatalf("revoke: %q", out)
		}
		deadline = time.Now().Add(10 * time.Second)
		for introspect() != 401 {
			if time.Now().After(deadline) {
				t.Fatal("a revoked service key still works after 10 s")
			}
			time.Sleep(500 * time.Millisecond)
		}
		if code, _, errOut := runCLI(t, env, "service-key", "revoke", "threat-cloud"); code != 1 || !strings.Contains(errOut, "no service key is named threat-cloud") {
			t.Fatalf("revoke again: exit %d %q", code, errOut)
		}
	})
}
