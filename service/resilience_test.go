package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"panguard.ai/auth/internal/mailtest"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk"
)

// The tests here start real service processes, kill them and stop their database. They run
// under `make test-resilience` (PANGUARD_RESILIENCE=1), which CI runs; a plain `go test`
// skips them and says so.
func resilience(t *testing.T) {
	t.Helper()
	if os.Getenv("PANGUARD_RESILIENCE") != "1" {
		t.Skip("set PANGUARD_RESILIENCE=1 (make test-resilience) to run the multi-process tests")
	}
}

func client(t *testing.T, base string) *sdk.Client {
	c, err := sdk.New(base)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReplicasBehaveAsOne(t *testing.T) {
	resilience(t)
	dbURL := storetest.PostgresURL(t)
	smtp, smtpURL := mailtest.StartSMTP(t)
	// Three replicas start at the same moment on an empty database: the migration lock and
	// the generated secrets must agree.
	env := []string{"PANGUARD_DATABASE_URL=" + dbURL, "PANGUARD_SMTP_URL=" + smtpURL, "PANGUARD_RATE_LIMIT=0"}
	var reps [3]*proc
	var wg sync.WaitGroup
	for i := range reps {
		wg.Add(1)
		go func() { defer wg.Done(); reps[i] = startProcess(t, env...) }()
	}
	wg.Wait()
	a, b, c := client(t, reps[0].base), client(t, reps[1].base), client(t, reps[2].base)
	ctx := context.Background()
	const email, pw = "replica@example.com", "replica-password"

	reg, err := a.Register(ctx, email, "R", pw)
	if err != nil {
		t.Fatal(err)
	}
	first := reg.Session.Token
	second, err := b.Login(ctx, email, pw)
	if err != nil {
		t.Fatal(err)
	}
	for i, cl := range []*sdk.Client{a, b, c} {
		if _, err := cl.WithToken(first).Me(ctx); err != nil {
			t.Fatalf("replica %d rejects a token from replica 0: %v", i, err)
		}
	}
	if err := b.WithToken(first).Logout(ctx); err != nil {
		t.Fatal(err)
	}
	for i, cl := range []*sdk.Client{a, b, c} {
		if _, err := cl.WithToken(first).Me(ctx); !isReason(err, sdk.ErrUnauthenticated) {
			t.Fatalf("replica %d accepts a token logged out on replica 1: %v", i, err)
		}
	}

	// 2FA on through replica 0; one code and one backup code, each raced on all three.
	u := a.WithToken(second.Token)
	setup, err := u.SetupTotp(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vcode, _ := oathtest.TOTP(setup.Secret, time.Now(), -1)
	if err := c.WithToken(second.Token).VerifyTotp(ctx, vcode); err != nil {
		t.Fatal(err)
	}
	// Three attempts each (one per replica), so this client stays under the 5 failures
	// after which the brute-force policy would lock it.
	raced := func(opt sdk.LoginOption) int {
		var mu sync.Mutex
		wins := 0
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := []*sdk.Client{a, b, c}[i%3].Login(ctx, email, pw, opt); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return wins
	}
	code, _ := oathtest.TOTP(setup.Secret, time.Now(), 0)
	if w := raced(sdk.WithTOTPCode(code)); w != 1 {
		t.Fatalf("one TOTP code logged in %d times across replicas", w)
	}
	if w := raced(sdk.WithBackupCode(setup.BackupCodes[0])); w != 1 {
		t.Fatalf("one backup code logged in %d times across replicas", w)
	}

	// Throttling is shared: six failures of this client (127.0.0.1) spread over the three
	// replicas lock it everywhere (per-process counters would need six on each).
	for i := range 6 {
		_, err := []*sdk.Client{a, b, c}[i%3].Login(ctx, email, "wrong")
		if !isReason(err, sdk.ErrInvalidCredentials) && !isReason(err, sdk.ErrRateLimited) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	for i, cl := range []*sdk.Client{a, b, c} {
		if _, err := cl.Login(ctx, email, pw); !isReason(err, sdk.ErrRateLimited) {
			t.Fatalf("after failures spread over replicas, replica %d says %v, want rate_limited", i, err)
		}
	}

	// Each outbox email is sent once, whichever replica queued it and whichever sends it.
	for i := range 6 {
		e := fmt.Sprintf("mail%d@example.com", i)
		cl := []*sdk.Client{a, b, c}[i%3]
		if _, err := cl.Register(ctx, e, "M", pw); err != nil {
			t.Fatal(err)
		}
		if _, err := []*sdk.Client{a, b, c}[(i+1)%3].ForgotPassword(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Seven verification emails (replica@ and mail0-5) and six reset emails.
	msgs := mailtest.Wait(t, smtp, 13)
	time.Sleep(2 * time.Second)
	msgs = append(msgs, mailtest.DecodeAll(t, smtp.Messages())...)
	seen := map[string]int{}
	resets := 0
	for _, m := range msgs {
		kind := " verify"
		if resetTokenRE.MatchString(m.Text) {
			kind, resets = " reset", resets+1
		}
		seen[m.To+kind]++
	}
	if len(msgs) != 13 || len(seen) != 13 || resets != 6 {
		t.Fatalf("%d emails (%d resets) to %d (recipient, kind) pairs, want 13 (6) to 13: %v", len(msgs), resets, len(seen), seen)
	}

	// A password reset on one replica kills the sessions everywhere at once.
	var resetToken string
	for _, m := range msgs {
		if strings.Contains(m.To, "mail0@example.com") {
			resetToken = resetTokenRE.FindString(m.Text)
		}
	}
	s0, err := c.Login(ctx, "mail0@example.com", pw)
	if err != nil || resetToken == "" {
		t.Fatalf("login %v, reset token %q", err, resetToken)
	}
	if err := a.ResetPassword(ctx, resetToken, "new-"+pw); err != nil {
		t.Fatal(err)
	}
	for i, cl := range []*sdk.Client{a, b, c} {
		if _, err := cl.WithToken(s0.Token).Me(ctx); !isReason(err, sdk.ErrUnauthenticated) {
			t.Fatalf("replica %d accepts a session revoked by a reset on replica 0: %v", i, err)
		}
	}
	if _, err := b.Login(ctx, "mail0@example.com", "new-"+pw); err != nil {
		t.Fatalf("new password on replica 1: %v", err)
	}
}

func isReason(err error, want *sdk.Error) bool {
	e, ok := err.(*sdk.Error)
	return ok && e.Reason == want.Reason
}

// TestCrashKeepsEveryAcknowledgedWrite SIGKILLs a replica in the middle of a
// registration/logout/forgot-password load, restarts it, and checks that everything it
// had answered 2xx is still true.
func TestCrashKeepsEveryAcknowledgedWrite(t *testing.T) {
	resilience(t)
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			dbURL := b.URL(t)
			// A short lease, so the reset requests the killed process had claimed are handled
			// again within the test rather than after the default minute.
			env := []string{"PANGUARD_DATABASE_URL=" + dbURL, "PANGUARD_RATE_LIMIT=0", "PANGUARD_SMTP_URL=smtp://127.0.0.1:1", "PANGUARD_OUTBOX_LEASE=3s"}
			p := startProcess(t, env...)
			ctx := context.Background()
			type acked struct{ email, revoked string }
			var mu sync.Mutex
			var done []acked
			var forgot []string
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cl := client(t, p.base)
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						e := fmt.Sprintf("crash-%d-%d@example.com", w, i)
						reg, err := cl.Register(ctx, e, "C", "crash-password")
						if err != nil || reg.Session == nil {
							continue
						}
						a := acked{email: e}
						if cl.WithToken(reg.Session.Token).Logout(ctx) == nil {
							a.revoked = reg.Session.Token
						}
						mu.Lock()
						done = append(done, a)
						mu.Unlock()
						if _, err := cl.ForgotPassword(ctx, e); err == nil {
							mu.Lock()
							forgot = append(forgot, e)
							mu.Unlock()
						}
					}
				}()
			}
			time.Sleep(3 * time.Second)
			p.cmd.Process.Signal(syscall.SIGKILL)
			close(stop)
			wg.Wait()
			p.cmd.Wait()
			if len(done) < 5 {
				t.Fatalf("only %d registrations before the crash", len(done))
			}

			smtp, smtpURL := mailtest.StartSMTP(t)
			env[2] = "PANGUARD_SMTP_URL=" + smtpURL
			p2 := startProcess(t, env...)
			cl := client(t, p2.base)
			revoked := 0
			for _, a := range done {
				if _, err := cl.Login(ctx, a.email, "crash-password"); err != nil {
					t.Fatalf("acknowledged account %s lost: %v", a.email, err)
				}
				if a.revoked != "" {
					revoked++
					if _, err := cl.WithToken(a.revoked).Me(ctx); !isReason(err, sdk.ErrUnauthenticated) {
						t.Fatalf("revoked session of %s alive after the crash: %v", a.email, err)
					}
				}
			}
			// Every acknowledged forgot-password request still produces its email (beside the
			// verification emails of the registrations).
			got := map[string]bool{}
			missing := func() string {
				for _, e := range forgot {
					if !got[e] {
						return e
					}
				}
				return ""
			}
			for deadline := time.Now().Add(20 * time.Second); missing() != "" && time.Now().Before(deadline); {
				for _, m := range mailtest.DecodeAll(t, smtp.MessagesAndPurge()) {
					if resetTokenRE.MatchString(m.Text) {
						got[strings.Trim(m.To, "<>")] = true
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			if e := missing(); e != "" {
				t.Fatalf("the reset email for %s was lost in the crash", e)
			}
			t.Logf("%d registrations, %d revocations and %d reset emails survived SIGKILL", len(done), revoked, len(forgot))
		})
	}
}

// privatePostgres is a PostgreSQL cluster this test owns, so it can stop and start it.
type privatePostgres struct {
	dir, bin, port string
	asPG           func(string) *exec.Cmd
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Fatal("PostgreSQL binaries not found (apt-get install postgresql)")
	}
	dir, err := os.MkdirTemp("", "panguard-outage")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(freePort(t))
	p := &privatePostgres{dir: dir, bin: filepath.Dir(bins[len(bins)-1]), port: port}
	p.asPG = func(cmd string) *exec.Cmd { return exec.Command("sh", "-c", cmd) }
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		os.Chown(dir, uid, -1)
		p.asPG = func(cmd string) *exec.Cmd { return exec.Command("su", "postgres", "-s", "/bin/sh", "-c", cmd) }
	}
	if out, err := p.asPG(p.bin + "/initdb -D " + dir + "/data -U postgres --auth=trust -E UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.start(t)
	t.Cleanup(func() { p.stop(t); os.RemoveAll(dir) })
	return p
}

func (p *privatePostgres) start(t *testing.T) {
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir)
	if out, err := p.asPG(fmt.Sprintf("%s/pg_ctl -D %s/data -l %s/log -o '%s' -w start", p.bin, p.dir, p.dir, opts)).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
}

func (p *privatePostgres) stop(t *testing.T) {
	p.asPG(fmt.Sprintf("%s/pg_ctl -D %s/data -m immediate -w stop", p.bin, p.dir)).CombinedOutput()
}

func (p *privatePostgres) url() string {
	return "postgres://postgres@127.0.0.1:" + p.port + "/postgres?sslmode=disable"
}

// TestDatabaseOutage stops PostgreSQL under load: requests must fail fast with 503
// unavailable (no 500, no hang), /readyz must say not ready while /healthz stays up, and the
// service must recover by itself when the database returns.
func TestDatabaseOutage(t *testing.T) {
	resilience(t)
	pg := startPrivatePostgres(t)
	p := startProcess(t, "PANGUARD_DATABASE_URL="+pg.url(), "PANGUARD_RATE_LIMIT=0")
	ctx := context.Background()
	cl := client(t, p.base)
	reg, err := cl.Register(ctx, "outage@example.com", "O", "outage-password")
	if err != nil {
		t.Fatal(err)
	}
	me := cl.WithToken(reg.Session.Token)
	if _, err := me.Me(ctx); err != nil {
		t.Fatal(err)
	}
	status := func(path string) int {
		res, err := http.Get(p.base + path)
		if err != nil {
			return -1
		}
		res.Body.Close()
		return res.StatusCode
	}

	pg.stop(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		start := time.Now()
		_, err := me.Me(ctx)
		took := time.Since(start)
		if took > 6*time.Second {
			t.Fatalf("a request hung for %v with the database down", took)
		}
		if e, ok := err.(*sdk.Error); ok && e.Status == 503 && e.Reason == "unavailable" && e.RetryAfter > 0 {
			break
		} else if ok && e.Status >= 500 && e.Status != 503 {
			t.Fatalf("database down: %d %s", e.Status, e.Reason)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 503 within 10 s of the outage; last: %v", err)
		}
	}
	if _, err := cl.Login(ctx, "outage@example.com", "outage-password"); !isReason(err, sdk.ErrUnavailable) {
		t.Fatalf("login with the database down: %v", err)
	}
	if st := status("/readyz"); st != 503 {
		t.Fatalf("/readyz with the database down: %d", st)
	}
	if st := status("/healthz"); st != 200 {
		t.Fatalf("/healthz with the database down: %d", st)
	}

	pg.start(t)
	deadline = time.Now().Add(20 * time.Second)
	for {
		if _, err := me.Me(ctx); err == nil && status("/readyz") == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not recover within 20 s of the database coming back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := cl.Login(ctx, "outage@example.com", "outage-password"); err != nil {
		t.Fatalf("login after recovery: %v", err)
	}
}
