package main

// These tests drive run(...) in-process against a live Panguard Auth server: the whole service
// runs in this process too (internal/servertest) on an httptest server over a fresh SQLite
// file, and its JSON log is captured to pick reset links out of the emails it prints.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/servertest"
	"panguard.ai/auth/sdk"
)

const (
	publicURL = "http://panguard.test"
	password  = "correct horse battery"
)

// syncBuffer is a bytes.Buffer safe for one writer (the server's stderr) and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// server is the live service shared by every test, started on first use.
var server struct {
	once sync.Once
	err  error
	url  string
	dir  string
	srv  *servertest.Server
	logs syncBuffer
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopServer()
	os.Exit(code)
}

// liveServer returns the base URL of the running service, building and starting it the
// first time.
func liveServer(t *testing.T) string {
	t.Helper()
	server.once.Do(func() { server.err = startServer() })
	if server.err != nil {
		t.Fatalf("live server: %v", server.err)
	}
	return server.url
}

// freePort returns a loopback port nothing listens on (any more).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return port, ln.Close()
}

// startServer runs the whole service in-process (on an httptest server) over a fresh SQLite
// file, logging as the real binary does, so the reset emails can be read from the log.
func startServer() error {
	dir, err := os.MkdirTemp("", "panguard-cli-test-")
	if err != nil {
		return err
	}
	server.dir = dir
	cfg := servertest.Config("sqlite://" + filepath.Join(dir, "auth.db"))
	cfg.PublicURL = publicURL
	srv, err := servertest.Start(cfg, slog.New(slog.NewJSONHandler(&server.logs, nil)))
	if err != nil {
		return fmt.Errorf("start the service: %w", err)
	}
	server.srv, server.url = srv, srv.URL
	return nil
}

func stopServer() {
	if server.srv != nil {
		server.srv.Close()
	}
	if server.dir != "" {
		os.RemoveAll(server.dir)
	}
}

// resetLinkRE matches the link of a reset email.
var resetLinkRE = regexp.MustCompile(regexp.QuoteMeta(publicURL+"/reset-password?token=") + `(rst_[0-9a-f]{64})`)

// scrapeResetToken waits up to 10 s for a reset email to email logged after byte offset from and
// returns the token of the last one.
func scrapeResetToken(t *testing.T, email string, from int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs := server.logs.String()[from:]
		token := ""
		sc := bufio.NewScanner(strings.NewReader(logs))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				To   string `json:"to"`
				Body string `json:"body"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.To != email {
				continue
			}
			if m := resetLinkRE.FindStringSubmatch(line.Body); m != nil {
				token = m[1]
			}
		}
		if token != "" {
			return token
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reset email to %s in the service log within 10s; log since the request:\n%s", email, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cli runs the command in-process for one person: its own home directory and the live server.
type cli struct {
	t   *testing.T
	env map[string]string
}

var emailSeq atomic.Int64

// newCLI returns a cli with a fresh HOME, PANGUARD_API_URL set to the live server, and a
// fresh email address for it.
func newCLI(t *testing.T) (*cli, string) {
	t.Helper()
	c := &cli{t: t, env: map[string]string{"HOME": t.TempDir(), "PANGUARD_API_URL": liveServer(t)}}
	email := fmt.Sprintf("user%d-%d@example.com", time.Now().UnixNano(), emailSeq.Add(1))
	return c, email
}

// outcome is what one run produced.
type outcome struct {
	code           int
	stdout, stderr string
}

func (o outcome) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", o.code, o.stdout, o.stderr)
}

// run runs the CLI with args and stdin.
func (c *cli) run(stdin string, args ...string) outcome {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return c.env[k] })
	return outcome{code: code, stdout: out.String(), stderr: errOut.String()}
}

// must runs the CLI and fails the test unless it exits with want.
func (c *cli) must(want int, stdin string, args ...string) outcome {
	c.t.Helper()
	o := c.run(stdin, args...)
	if o.code != want {
		c.t.Fatalf("panguard %s: want exit %d, got %s", strings.Join(args, " "), want, o)
	}
	return o
}

// register creates an account for email and leaves it logged in.
func (c *cli) register(email string) {
	c.t.Helper()
	c.must(0, password+"\n"+password+"\n", "register", "--email", email, "--name", "Test User")
}

func (c *cli) credentialsPath() string {
	if d := c.env["PANGUARD_CONFIG_DIR"]; d != "" {
		return filepath.Join(d, "credentials.json")
	}
	return filepath.Join(c.env["HOME"], ".panguard", "credentials.json")
}

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

// decodeJSON parses stdout as exactly one JSON object.
func decodeJSON(t *testing.T, o outcome) map[string]any {
	t.Helper()
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(o.stdout))
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, o)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", o)
	}
	return v
}

// totp is the code of secret shifted by drift steps from now.
func totp(t *testing.T, secret string, drift int) string {
	t.Helper()
	code, err := oathtest.TOTP(secret, time.Now(), drift)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wrongTOTP is a 6-digit code valid at none of the steps the server accepts now.
func wrongTOTP(t *testing.T, secret string) string {
	t.Helper()
	valid := []string{totp(t, secret, -2), totp(t, secret, -1), totp(t, secret, 0), totp(t, secret, 1), totp(t, secret, 2)}
	for i := 0; ; i++ {
		code := fmt.Sprintf("%06d", (123456+i*7919)%1000000)
		if !slices.Contains(valid, code) {
			return code
		}
	}
}

func TestHelpAndUsageErrors(t *testing.T) {
	everyCommand := []string{"register", "login", "whoami", "logout", "2fa setup", "2fa verify", "2fa disable",
		"2fa status", "2fa backup-codes", "sessions", "sessions revoke", "passwd", "email change", "email confirm",
		"email verify", "email resend", "activity", "export", "delete-account",
		"forgot-password", "reset-password", "admin users", "admin user ", "admin plan", "admin suspend", "admin unsuspend",
		"admin revoke-sessions", "admin reset-2fa", "admin delete-user", "admin audit", "help", "--api", "--json"}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"help command lists every command", []string{"help"}, 0, everyCommand, nil},
		{"-h lists every command", []string{"-h"}, 0, everyCommand, nil},
		{"--help lists every command", []string{"--help"}, 0, everyCommand, nil},
		{"no command is a usage error", nil, 2, nil, []string{"Usage:"}},
		{"unknown command is a usage error", []string{"frobnicate"}, 2, nil, []string{`unknown command "frobnicate"`}},
		{"unknown global flag is a usage error", []string{"--nope", "whoami"}, 2, nil, []string{"-nope"}},
		{"unknown command flag is a usage error", []string{"login", "--nope"}, 2, nil, []string{"-nope", "panguard login -h"}},
		{"stray argument is a usage error", []string{"whoami", "extra"}, 2, nil, []string{`unexpected argument "extra"`}},
		{"2fa without a subcommand is a usage error", []string{"2fa"}, 2, nil, []string{"setup", "verify", "disable", "status", "backup-codes"}},
		{"unknown 2fa subcommand is a usage error", []string{"2fa", "nope"}, 2, nil, []string{`unknown command "2fa nope"`}},
		{"command -h shows its flags", []string{"login", "-h"}, 0, []string{"Usage: panguard login", "-email", "-code"}, nil},
		{"usage error under --json is a JSON object", []string{"--json", "frobnicate"}, 2, []string{`"ok":false`, `"reason":"usage"`}, nil},
		{"sessions revoke without an id or --others is a usage error", []string{"sessions", "revoke"}, 2, nil, []string{"missing session id, or --others"}},
		{"sessions revoke with an id and --others is a usage error", []string{"sessions", "revoke", "ses_1", "--others"}, 2, nil, []string{"not both"}},
		{"sessions revoke with two ids is a usage error", []string{"sessions", "revoke", "ses_1", "ses_2"}, 2, nil, []string{`unexpected argument "ses_2"`}},
		{"sessions revoke -h shows its flags", []string{"sessions", "revoke", "-h"}, 0, []string{"Usage: panguard sessions revoke", "-others"}, nil},
		{"email without a subcommand is a usage error", []string{"email"}, 2, nil, []string{"change", "confirm", "verify", "resend"}},
		{"unknown email subcommand is a usage error", []string{"email", "nope"}, 2, nil, []string{`unknown command "email nope"`}},
		{"email change without an address is a usage error", []string{"email", "change"}, 2, nil, []string{"missing new email address"}},
		{"activity --limit 0 is a usage error", []string{"activity", "--limit", "0"}, 2, nil, []string{"--limit must be between 1 and 100"}},
		{"activity --limit 101 is a usage error", []string{"activity", "--limit", "101"}, 2, nil, []string{"--limit must be between 1 and 100"}},
		{"export -h shows its flags", []string{"export", "-h"}, 0, []string{"Usage: panguard export", "-o"}, nil},
		{"passwd -h shows its flags", []string{"passwd", "-h"}, 0, []string{"Usage: panguard passwd", "-code"}, nil},
		{"delete-account takes no argument", []string{"delete-account", "now"}, 2, nil, []string{`unexpected argument "now"`}},
		{"malformed --api is a usage error", []string{"--api", "localhost:3000", "forgot-password", "--email", "a@example.com"}, 2, nil, []string{"http://"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cli{t: t, env: map[string]string{"HOME": t.TempDir()}}
			o := c.must(tt.wantCode, "", tt.args...)
			contains(t, "stdout", o.stdout, tt.wantStdout...)
			contains(t, "stderr", o.stderr, tt.wantStderr...)
		})
	}
}

func TestRegisterSavesPrivateCredentialsAndLogsIn(t *testing.T) {
	c, email := newCLI(t)
	o := c.must(0, password+"\n"+password+"\n", "register", "--email", email, "--name", "Alice Chen")
	contains(t, "stdout", o.stdout, "Welcome, Alice Chen", email, "solo")
	contains(t, "stderr", o.stderr, "Password", "Confirm password:")

	path := c.credentialsPath()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("credentials file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode = %v, want 0600", st.Mode().Perm())
	}
	if dst, err := os.Stat(filepath.Dir(path)); err != nil || dst.Mode().Perm() != 0o700 {
		t.Errorf("credentials directory: %v, mode %v, want 0700", err, dst.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatalf("credentials file is not JSON: %v\n%s", err, b)
	}
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"apiUrl", "email", "expiresAt", "name", "savedAt", "token"}; !slices.Equal(names, want) {
		t.Errorf("credentials fields = %v, want exactly %v", names, want)
	}
	if fields["email"] != email || fields["name"] != "Alice Chen" || fields["apiUrl"] != server.url {
		t.Errorf("credentials = %s; want email %s, name Alice Chen, apiUrl %s", b, email, server.url)
	}
	if tok, _ := fields["token"].(string); tok == "" {
		t.Errorf("credentials have no token: %s", b)
	}
	for _, k := range []string{"expiresAt", "savedAt"} {
		s, _ := fields[k].(string)
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			t.Errorf("%s = %q is not RFC 3339: %v", k, s, err)
		}
	}
	if exp, _ := time.Parse(time.RFC3339, fields["expiresAt"].(string)); !exp.After(time.Now()) {
		t.Errorf("expiresAt %v is not in the future", exp)
	}
	if b, err := os.ReadDir(filepath.Dir(path)); err != nil || len(b) != 1 {
		t.Errorf("the credentials directory should hold only credentials.json (no temporary files left): %v %v", b, err)
	}

	t.Run("whoami shows the account", func(t *testing.T) {
		o := c.must(0, "", "whoami")
		contains(t, "stdout", o.stdout, email, "Alice Chen", "solo", "usr_", "Machine limit:  3", "2FA:            off", "Trial ends:")
	})
	t.Run("--json whoami is one JSON object", func(t *testing.T) {
		v := decodeJSON(t, c.must(0, "", "--json", "whoami"))
		if v["ok"] != true || v["email"] != email || v["tier"] != "solo" || v["machineLimit"] != float64(3) || v["totpEnabled"] != false {
			t.Errorf("whoami JSON = %v", v)
		}
		if s, _ := v["trialEndsAt"].(string); s == "" {
			t.Errorf("whoami JSON has no trialEndsAt: %v", v)
		}
	})
	t.Run("--json after the command works too", func(t *testing.T) {
		v := decodeJSON(t, c.must(0, "", "whoami", "--json"))
		if v["email"] != email {
			t.Errorf("whoami JSON = %v", v)
		}
	})
	t.Run("login tightens a loosened credentials file to 0600", func(t *testing.T) {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		o := c.must(0, password+"\n", "login", "--email", email)
		contains(t, "stdout", o.stdout, "Logged in as Alice Chen")
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("after login: %v, mode %v, want 0600", err, st.Mode().Perm())
		}
	})
	t.Run("without PANGUARD_API_URL the saved server is used", func(t *testing.T) {
		c2 := &cli{t: t, env: map[string]string{"HOME": c.env["HOME"]}}
		o := c2.must(0, "", "whoami")
		contains(t, "stdout", o.stdout, email)
	})
}

func TestRegisterAsksForWhatIsMissing(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      func(email string) string
		wantCode   int
		wantStderr []string
		wantSaved  bool
	}{
		{"prompts for email, name and password twice", []string{"register"},
			func(e string) string { return e + "\nBob\n" + password + "\n" + password + "\n" }, 0,
			[]string{"Email:", "Name:", "Password", "Confirm password:"}, true},
		{"passwords that differ are refused before calling the server", []string{"register", "--name", "Bob"},
			func(e string) string { return e + "\n" + password + "\nsomething else\n" }, 1,
			[]string{"do not match"}, false},
		{"a too-short password shows the server's validation message", []string{"register", "--name", "Bob"},
			func(e string) string { return e + "\nshort\nshort\n" }, 1,
			[]string{"Invalid input:"}, false},
		{"stdin ending early is a clear error", []string{"register"},
			func(e string) string { return e + "\n" }, 1,
			[]string{`No answer to "Name"`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, email := newCLI(t)
			o := c.must(tt.wantCode, tt.stdin(email), tt.args...)
			contains(t, "stderr", o.stderr, tt.wantStderr...)
			_, err := os.Stat(c.credentialsPath())
			if saved := err == nil; saved != tt.wantSaved {
				t.Errorf("credentials saved = %v, want %v (%v)", saved, tt.wantSaved, err)
			}
		})
	}
}

func TestConfigDirOverridesHome(t *testing.T) {
	c, email := newCLI(t)
	dir := filepath.Join(t.TempDir(), "cfg")
	c.env["PANGUARD_CONFIG_DIR"] = dir
	c.register(email)
	if st, err := os.Stat(filepath.Join(dir, "credentials.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials in PANGUARD_CONFIG_DIR: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.env["HOME"], ".panguard")); err == nil {
		t.Errorf("~/.panguard was created although PANGUARD_CONFIG_DIR is set")
	}
	contains(t, "stdout", c.must(0, "", "whoami").stdout, email)
}

func TestDuplicateRegistrationPrintsGenericMessageAndSavesNothing(t *testing.T) {
	first, email := newCLI(t)
	first.register(email)

	human, _ := newCLI(t)
	o := human.must(0, "other password\nother password\n", "register", "--email", email, "--name", "Mallory")
	contains(t, "stdout", o.stdout, "No session was started")
	if _, err := os.Stat(human.credentialsPath()); err == nil {
		t.Errorf("a duplicate registration saved credentials")
	}

	script, _ := newCLI(t)
	v := decodeJSON(t, script.must(0, "other password\nother password\n", "--json", "register", "--email", email, "--name", "Mallory"))
	msg, _ := v["message"].(string)
	if v["ok"] != true || v["loggedIn"] != false || msg == "" {
		t.Fatalf("duplicate register JSON = %v", v)
	}
	contains(t, "human stdout", o.stdout, msg)
	if _, err := os.Stat(script.credentialsPath()); err == nil {
		t.Errorf("a duplicate registration saved credentials")
	}
	// The account is untouched: its password still works.
	first.must(0, password+"\n", "login", "--email", email)
}

func TestLoginFailuresAreExplained(t *testing.T) {
	owner, email := newCLI(t)
	owner.register(email)
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantStdout []string
		wantStderr []string
	}{
		{"wrong password", []string{"login", "--email", email}, "wrong password\n", nil, []string{"Invalid email or password."}},
		{"unknown email reads the same", []string{"login", "--email", "nobody-" + email}, password + "\n", nil, []string{"Invalid email or password."}},
		{"wrong password under --json", []string{"--json", "login", "--email", email}, "wrong password\n",
			[]string{`"ok":false`, `"reason":"invalid_credentials"`, `"error":"Invalid email or password."`}, nil},
		{"empty password is refused locally", []string{"login", "--email", email}, "\n", nil, []string{"password is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newCLI(t)
			o := c.must(1, tt.stdin, tt.args...)
			contains(t, "stdout", o.stdout, tt.wantStdout...)
			contains(t, "stderr", o.stderr, tt.wantStderr...)
			if _, err := os.Stat(c.credentialsPath()); err == nil {
				t.Errorf("a failed login saved credentials")
			}
		})
	}
}

func TestCommandsWithoutSessionSayNotLoggedIn(t *testing.T) {
	tests := [][]string{{"whoami"}, {"logout"}, {"2fa", "setup"}, {"2fa", "verify", "--code", "123456"}, {"2fa", "status"}, {"2fa", "disable"}, {"2fa", "backup-codes"},
		{"sessions"}, {"sessions", "revoke", "--others"}, {"sessions", "revoke", "ses_0"}, {"passwd"}, {"email", "change", "new@example.com"},
		{"email", "resend"}, {"activity"}, {"export"}, {"delete-account"}}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c, _ := newCLI(t)
			o := c.must(1, password+"\n", args...)
			contains(t, "stderr", o.stderr, "Not logged in. Run: panguard login")
			v := decodeJSON(t, c.must(1, password+"\n", append([]string{"--json"}, args...)...))
			if v["ok"] != false || v["reason"] != "not_logged_in" {
				t.Errorf("JSON = %v", v)
			}
		})
	}
	t.Run("expired saved session", func(t *testing.T) {
		c, email := newCLI(t)
		c.register(email)
		b, err := os.ReadFile(c.credentialsPath())
		if err != nil {
			t.Fatal(err)
		}
		var cr map[string]any
		if err := json.Unmarshal(b, &cr); err != nil {
			t.Fatal(err)
		}
		cr["expiresAt"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		b, _ = json.Marshal(cr)
		if err := os.WriteFile(c.credentialsPath(), b, 0o600); err != nil {
			t.Fatal(err)
		}
		contains(t, "stderr", c.must(1, "", "whoami").stderr, "Not logged in. Run: panguard login")
		o := c.must(0, "", "logout")
		contains(t, "stdout", o.stdout, "already ended")
		if _, err := os.Stat(c.credentialsPath()); err == nil {
			t.Errorf("logout of an expired session left the credentials file")
		}
	})
}

func TestLogout(t *testing.T) {
	c, email := newCLI(t)
	c.register(email)
	saved, err := os.ReadFile(c.credentialsPath())
	if err != nil {
		t.Fatal(err)
	}
	contains(t, "stdout", c.must(0, "", "logout").stdout, "Logged out "+email)
	if _, err := os.Stat(c.credentialsPath()); err == nil {
		t.Fatalf("logout left the credentials file")
	}
	contains(t, "stderr", c.must(1, "", "whoami").stderr, "Not logged in. Run: panguard login")

	// The server revoked the token: putting the old file back and logging out again says so.
	if err := os.WriteFile(c.credentialsPath(), saved, 0o600); err != nil {
		t.Fatal(err)
	}
	contains(t, "stderr", c.must(1, "", "whoami").stderr, "no longer valid")
	v := decodeJSON(t, c.must(0, "", "--json", "logout"))
	if v["ok"] != true || v["sessionAlreadyEnded"] != true {
		t.Errorf("logout of a revoked session: %v", v)
	}
	if _, err := os.Stat(c.credentialsPath()); err == nil {
		t.Errorf("logout of a revoked session left the credentials file")
	}
}

// TestTwoFactorLifecycle walks one account through setup, verify, logins with a code and a
// backup code, status, new backup codes and disable. Steps run in order and share state.
func TestTwoFactorLifecycle(t *testing.T) {
	c, email := newCLI(t)
	var secret string
	var backup []string
	setCodes := func(t *testing.T, v map[string]any) []string {
		t.Helper()
		raw, _ := v["backupCodes"].([]any)
		var codes []string
		for _, x := range raw {
			s, _ := x.(string)
			codes = append(codes, s)
		}
		if len(codes) != 10 {
			t.Fatalf("want 10 backup codes, got %v", v)
		}
		return codes
	}
	steps := []struct {
		name       string
		args       []string
		moreArgs   func() []string // arguments known only when the step runs
		stdin      func(t *testing.T) string
		wantCode   int
		wantStdout []string
		wantStderr []string
		check      func(t *testing.T, o outcome)
		env        map[string]string // set for this step only
	}{
		{name: "register", args: []string{"register", "--email", email, "--name", "Totp User"},
			stdin: func(*testing.T) string { return password + "\n" + password + "\n" }},
		{name: "setup shows secret, URL, QR code and backup codes once", args: []string{"2fa", "setup"},
			wantStdout: []string{"secret by hand:", "otpauth://totp/", "shown only this once", "▀", "panguard 2fa verify"},
			check: func(t *testing.T, o outcome) {
				checkSetupQR(t, o, false)
				_, after, _ := strings.Cut(o.stdout, "shown only this once.\n")
				block, _, _ := strings.Cut(after, "\n\n")
				codes := strings.Fields(block)
				if len(codes) != 10 {
					t.Fatalf("want 10 backup codes after the warning, got %q", codes)
				}
				for _, code := range codes {
					if !regexp.MustCompile(`^[a-z0-9]{10}$`).MatchString(code) {
						t.Errorf("backup code %q is not 10 lowercase letters or digits", code)
					}
				}
			}},
		{name: "setup --qr-invert draws the code dark on light", args: []string{"2fa", "setup", "--qr-invert"},
			wantStdout: []string{"secret by hand:", "panguard 2fa setup --qr-invert=false (for a dark background)"},
			check:      func(t *testing.T, o outcome) { checkSetupQR(t, o, true) }},
		{name: "setup with PANGUARD_QR_INVERT=1 draws it dark on light", args: []string{"2fa", "setup"},
			env:   map[string]string{"PANGUARD_QR_INVERT": "1"},
			check: func(t *testing.T, o outcome) { checkSetupQR(t, o, true) }},
		{name: "setup with --qr-invert=false draws it light on dark whatever COLORFGBG says", args: []string{"2fa", "setup", "--qr-invert=false"},
			env:        map[string]string{"COLORFGBG": "0;15"},
			wantStdout: []string{"panguard 2fa setup --qr-invert (for a light background)"},
			check:      func(t *testing.T, o outcome) { checkSetupQR(t, o, false) }},
		{name: "status shows the pending setup", args: []string{"2fa", "status"}, wantStdout: []string{"2FA: off (setup started"}},
		{name: "setup under --json is one object without a QR code", args: []string{"--json", "2fa", "setup"},
			check: func(t *testing.T, o outcome) {
				v := decodeJSON(t, o)
				secret, _ = v["secret"].(string)
				if secret == "" || !strings.HasPrefix(v["otpauthUrl"].(string), "otpauth://totp/") {
					t.Fatalf("setup JSON = %v", v)
				}
				backup = setCodes(t, v)
			}},
		{name: "verify with a wrong code is refused", args: []string{"2fa", "verify"},
			stdin: func(t *testing.T) string { return wrongTOTP(t, secret) + "\n" }, wantCode: 1,
			wantStderr: []string{"Authentication code:", "authentication code is wrong"}},
		{name: "verify with the current code enables 2FA", args: []string{"2fa", "verify"},
			stdin:      func(t *testing.T) string { return totp(t, secret, -1) + "\n" },
			wantStdout: []string{"now enabled"}},
		{name: "setup again is refused", args: []string{"2fa", "setup"}, wantCode: 1, wantStderr: []string{"already enabled"}},
		{name: "whoami shows 2FA on", args: []string{"whoami"}, wantStdout: []string{"2FA:            on"}},
		{name: "logout", args: []string{"logout"}, wantStdout: []string{"Logged out"}},
		{name: "login with a wrong code is refused", args: []string{"login", "--email", email},
			stdin: func(t *testing.T) string { return password + "\n" + wrongTOTP(t, secret) + "\n" }, wantCode: 1,
			wantStderr: []string{"Authentication code (or backup code):", "authentication code is wrong"}},
		{name: "login asks for the password then the code", args: []string{"login", "--email", email},
			stdin:      func(t *testing.T) string { return password + "\n" + totp(t, secret, 0) + "\n" },
			wantStdout: []string{"Logged in as Totp User"},
			wantStderr: []string{"Password:", "Authentication code (or backup code):"},
			check: func(t *testing.T, o outcome) {
				if strings.Index(o.stderr, "Password:") > strings.Index(o.stderr, "Authentication code") {
					t.Errorf("the code was asked for before the password:\n%s", o.stderr)
				}
			}},
		{name: "whoami works with the 2FA session", args: []string{"whoami"}, wantStdout: []string{email}},
		{name: "logout again", args: []string{"logout"}},
		{name: "login with a backup code", args: []string{"login", "--email", email},
			stdin:      func(*testing.T) string { return password + "\n" + backup[0] + "\n" },
			wantStdout: []string{"Logged in as Totp User"}},
		{name: "a backup code works only once", args: []string{"--json", "login", "--email", email},
			stdin: func(*testing.T) string { return password + "\n" + backup[0] + "\n" }, wantCode: 1,
			wantStdout: []string{`"reason":"invalid_totp_code"`}},
		{name: "login with --code skips the prompt", args: []string{"login", "--email", email},
			moreArgs: func() []string { return []string{"--code", backup[1]} },
			stdin:    func(*testing.T) string { return password + "\n" },
			check: func(t *testing.T, o outcome) {
				if strings.Contains(o.stderr, "Authentication code") {
					t.Errorf("login asked for a code given with --code:\n%s", o.stderr)
				}
			}},
		{name: "status counts the used backup codes", args: []string{"--json", "2fa", "status"},
			check: func(t *testing.T, o outcome) {
				v := decodeJSON(t, o)
				if v["enabled"] != true || v["backupCodesRemaining"] != float64(8) {
					t.Errorf("status JSON = %v, want enabled with 8 backup codes", v)
				}
			}},
		{name: "status for people", args: []string{"2fa", "status"}, wantStdout: []string{"2FA: on", "Backup codes remaining: 8"}},
		{name: "new backup codes need the right password", args: []string{"2fa", "backup-codes"},
			stdin: func(*testing.T) string { return "wrong password\n" }, wantCode: 1, wantStderr: []string{"Wrong password."}},
		{name: "new backup codes with a wrong code are refused", args: []string{"2fa", "backup-codes"},
			stdin: func(t *testing.T) string { return password + "\n" + wrongTOTP(t, secret) + "\n" }, wantCode: 1,
			wantStderr: []string{"Authentication code (or backup code):", "authentication code is wrong"}},
		{name: "new backup codes ask for the password then a code", args: []string{"--json", "2fa", "backup-codes"},
			stdin: func(t *testing.T) string { return password + "\n" + totp(t, secret, 1) + "\n" },
			check: func(t *testing.T, o outcome) {
				fresh := setCodes(t, decodeJSON(t, o))
				if slices.Contains(fresh, backup[2]) {
					t.Errorf("the new codes include an old one")
				}
				backup = fresh
			}},
		{name: "status after new codes", args: []string{"2fa", "status"}, wantStdout: []string{"Backup codes remaining: 10"}},
		{name: "disable needs the right password", args: []string{"2fa", "disable"},
			stdin: func(*testing.T) string { return "wrong password\n" }, wantCode: 1, wantStderr: []string{"Password:", "Wrong password."}},
		{name: "disable without a code is refused", args: []string{"--json", "2fa", "disable"},
			stdin: func(*testing.T) string { return password + "\n" }, wantCode: 1, wantStdout: []string{`"reason":"no_input"`}},
		{name: "disable with a backup code given by --code", args: []string{"2fa", "disable"},
			moreArgs: func() []string { return []string{"--code", backup[0]} },
			stdin:    func(*testing.T) string { return password + "\n" }, wantStdout: []string{"now disabled"},
			check: func(t *testing.T, o outcome) {
				if strings.Contains(o.stderr, "Authentication code") {
					t.Errorf("disable asked for a code given with --code:\n%s", o.stderr)
				}
			}},
		{name: "status after disable", args: []string{"2fa", "status"}, wantStdout: []string{"2FA: off"}},
		{name: "disable again is explained", args: []string{"2fa", "disable"},
			stdin: func(*testing.T) string { return password + "\n" }, wantCode: 1, wantStderr: []string{"not enabled"}},
		{name: "verify without setup is explained", args: []string{"2fa", "verify", "--code", "123456"}, wantCode: 1,
			wantStderr: []string{"no two-factor setup to confirm"}},
		{name: "logout once more", args: []string{"logout"}},
		{name: "login no longer asks for a code", args: []string{"login", "--email", email},
			stdin: func(*testing.T) string { return password + "\n" },
			check: func(t *testing.T, o outcome) {
				if strings.Contains(o.stderr, "Authentication code") {
					t.Errorf("login asked for a code after 2FA was disabled:\n%s", o.stderr)
				}
			}},
	}
	for _, st := range steps {
		ok := t.Run(st.name, func(t *testing.T) {
			stdin := ""
			if st.stdin != nil {
				stdin = st.stdin(t)
			}
			for k, v := range st.env {
				c.env[k] = v
				defer delete(c.env, k)
			}
			args := st.args
			if st.moreArgs != nil {
				args = append(slices.Clone(args), st.moreArgs()...)
			}
			o := c.must(st.wantCode, stdin, args...)
			contains(t, "stdout", o.stdout, st.wantStdout...)
			contains(t, "stderr", o.stderr, st.wantStderr...)
			if st.check != nil {
				st.check(t, o)
			}
		})
		if !ok {
			t.Fatalf("step %q failed; the later steps depend on it", st.name)
		}
	}
}

// setupQRRE picks the QR code, the secret and the otpauth URL out of 2fa setup's output.
var setupQRRE = regexp.MustCompile(`authenticator app:\n((?s:.*?))   or enter the secret by hand: (\S+)\n   otpauth URL: (\S+)\n`)

// checkSetupQR checks that 2fa setup printed the secret as text, and the QR code of the
// otpauth URL holding it drawn dark on light when inverted, else light on dark.
func checkSetupQR(t *testing.T, o outcome, inverted bool) {
	t.Helper()
	m := setupQRRE.FindStringSubmatch(o.stdout)
	if m == nil {
		t.Fatalf("no QR code, secret and otpauth URL in:\n%s", o.stdout)
	}
	drawn, secret, otpauthURL := m[1], m[2], m[3]
	if u, err := url.Parse(otpauthURL); err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") != secret {
		t.Errorf("otpauth URL %q does not hold the secret %q printed (%v)", otpauthURL, secret, err)
	}
	var want strings.Builder
	writeQR(&want, otpauthURL, inverted)
	if drawn != want.String() {
		t.Errorf("the QR code is not that of the otpauth URL drawn with inverted=%v; got\n%s\nwant\n%s", inverted, drawn, want.String())
	}
}

func TestForgotAndResetPassword(t *testing.T) {
	c, email := newCLI(t)
	c.register(email)
	const newPassword = "a brand new passphrase"

	from := server.logs.Len()
	o := c.must(0, email+"\n", "forgot-password")
	contains(t, "stderr", o.stderr, "Email:")
	contains(t, "stdout", o.stdout, "reset link", "panguard reset-password")
	token := scrapeResetToken(t, email, from)
	link := publicURL + "/reset-password?token=" + token

	steps := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"new passwords that differ change nothing", []string{"reset-password", "--token", token},
			newPassword + "\nsomething else\n", 1, nil, []string{"do not match"}},
		{"an unknown token is explained", []string{"reset-password", "--token", "rst_" + strings.Repeat("0", 64)},
			newPassword + "\n" + newPassword + "\n", 1, nil, []string{"reset token is invalid"}},
		{"the session still works before the reset", []string{"whoami"}, "", 0, []string{email}, nil},
		{"reset with the link pasted at the prompt", []string{"reset-password"},
			link + "\n" + newPassword + "\n" + newPassword + "\n", 0, []string{"password has been changed"},
			[]string{"Reset token", "New password", "Confirm new password:"}},
		{"the token works once", []string{"reset-password", "--token", token},
			newPassword + "\n" + newPassword + "\n", 1, nil, []string{"reset token is invalid"}},
		{"the old session was revoked", []string{"whoami"}, "", 1, nil, []string{"no longer valid"}},
		{"the old password no longer works", []string{"login", "--email", email}, password + "\n", 1, nil, []string{"Invalid email or password."}},
		{"the new password works", []string{"login", "--email", email}, newPassword + "\n", 0, []string{"Logged in"}, nil},
		{"forgot-password under --json", []string{"--json", "forgot-password", "--email", "nobody-" + email}, "", 0,
			[]string{`"ok":true`, `"message":`}, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			o := c.must(st.wantCode, st.stdin, st.args...)
			contains(t, "stdout", o.stdout, st.wantStdout...)
			contains(t, "stderr", o.stderr, st.wantStderr...)
		})
	}
}

func TestUnreachableServerIsNamed(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	closed := fmt.Sprintf("http://127.0.0.1:%d", port)
	live := liveServer(t)
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantStdout []string
		wantStderr []string
	}{
		{"PANGUARD_API_URL at a closed port", map[string]string{"PANGUARD_API_URL": closed},
			[]string{"login", "--email", "a@example.com"}, nil,
			[]string{"Cannot reach the Panguard Auth server at " + closed, "connection refused"}},
		{"--api wins over PANGUARD_API_URL", map[string]string{"PANGUARD_API_URL": live},
			[]string{"--api", closed, "forgot-password", "--email", "a@example.com"}, nil,
			[]string{"Cannot reach the Panguard Auth server at " + closed}},
		{"--json reports reason network", map[string]string{"PANGUARD_API_URL": closed},
			[]string{"--json", "forgot-password", "--email", "a@example.com"},
			[]string{`"ok":false`, `"reason":"network"`, "Cannot reach the Panguard Auth server at " + closed}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["HOME"] = t.TempDir()
			c := &cli{t: t, env: tt.env}
			o := c.must(1, password+"\n", tt.args...)
			contains(t, "stdout", o.stdout, tt.wantStdout...)
			contains(t, "stderr", o.stderr, tt.wantStderr...)
		})
	}
	t.Run("logout keeps the credentials when the server cannot be reached", func(t *testing.T) {
		c, email := newCLI(t)
		c.register(email)
		// The server that issued the session goes away.
		raw, err := os.ReadFile(c.credentialsPath())
		if err != nil {
			t.Fatal(err)
		}
		var creds map[string]any
		if err := json.Unmarshal(raw, &creds); err != nil {
			t.Fatal(err)
		}
		creds["apiUrl"] = closed
		raw, _ = json.Marshal(creds)
		if err := os.WriteFile(c.credentialsPath(), raw, 0o600); err != nil {
			t.Fatal(err)
		}
		delete(c.env, "PANGUARD_API_URL")
		contains(t, "stderr", c.must(1, "", "logout").stderr, "Cannot reach")
		if _, err := os.Stat(c.credentialsPath()); err != nil {
			t.Errorf("credentials were deleted although the session was not revoked: %v", err)
		}
	})
	t.Run("a session is never sent to another server", func(t *testing.T) {
		c, email := newCLI(t)
		c.register(email)
		c.env["PANGUARD_API_URL"] = closed
		contains(t, "stderr", c.must(1, "", "whoami").stderr, "You are logged in to "+live+", not "+closed)
	})
}

func TestEveryReasonHasAClearMessage(t *testing.T) {
	tests := []struct {
		reason     string
		message    string
		retryAfter time.Duration
		want       string
	}{
		{"invalid_credentials", "", 0, "Invalid email or password."},
		{"totp_required", "2FA_REQUIRED", 0, "authentication code or a backup code is required"},
		{"invalid_totp_code", "", 0, "authentication code is wrong"},
		{"unauthenticated", "", 0, "Run: panguard login"},
		{"invalid_reset_token", "", 0, "panguard forgot-password"},
		{"invalid_password", "", 0, "Wrong password."},
		{"already_enabled", "", 0, "already enabled"},
		{"totp_not_setup", "", 0, "panguard 2fa setup"},
		{"totp_not_enabled", "", 0, "not enabled"},
		{"validation_failed", "name must be 1-100 characters", 0, "Invalid input: name must be 1-100 characters"},
		{"invalid_token", "", 0, "invalid, already used or expired"},
		{"email_taken", "", 0, "belongs to another account"},
		{"invalid_cursor", "", 0, "not one the server issued"},
		{"not_found", "", 0, "Not found"},
		{"forbidden", "", 0, "Not allowed"},
		{"conflict", "You cannot suspend your own account", 0, "Refused: You cannot suspend your own account"},
		{"account_suspended", "This account is suspended; contact support", 0, "suspended by an administrator"},
		{"invalid_json", "body is not JSON", 0, "could not read the request: body is not JSON"},
		{"rate_limited", "", 42 * time.Second, "Try again in 42 seconds."},
		{"rate_limited", "", 0, "Too many requests."},
		{"unavailable", "", 3 * time.Second, "temporarily unavailable. Try again in 3 seconds."},
		{"internal", "boom", 0, "internal error (boom)"},
		{"something_new", "a future failure", 0, "a future failure (something_new)"},
	}
	a := &app{env: func(string) string { return "" }, apiFlag: "http://auth.example"}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			err := fmt.Errorf("wrapped: %w", &sdk.Error{Reason: tt.reason, Message: tt.message, RetryAfter: tt.retryAfter})
			reason, msg, code := a.explain(err)
			if reason != tt.reason || code != 1 || !strings.Contains(msg, tt.want) {
				t.Errorf("explain = %q, %q, %d; want reason %q, exit 1, message containing %q", reason, msg, code, tt.reason, tt.want)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		err := fmt.Errorf("sdk: me: %w", &url.Error{Op: "Get", URL: "http://auth.example/api/auth/me",
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}})
		reason, msg, code := a.explain(err)
		if reason != "network" || code != 1 || !strings.Contains(msg, "Cannot reach the Panguard Auth server at http://auth.example: connection refused") {
			t.Errorf("explain = %q, %q, %d", reason, msg, code)
		}
	})
}
