package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/mailtest"
	"panguard.ai/auth/internal/storetest"
)

var (
	outboxIDRE    = regexp.MustCompile(`(?m)^obx_[0-9a-z]+`)
	verifyTokenRE = regexp.MustCompile(`vfy_[0-9a-f]{64}`)
)

// TestFailedEmailsAreListedAndRetried: with the SMTP server unreachable, emails fail after
// PANGUARD_OUTBOX_MAX_ATTEMPTS; `outbox failed` lists them without their content, and `outbox
// retry` (one ID, then --all) puts them back so an instance with a working server sends them.
func TestFailedEmailsAreListedAndRetried(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		env := []string{"PANGUARD_DATABASE_URL=" + dbURL}
		// A port nobody listens on: every attempt is refused.
		p := startProcess(t, append(env, "PANGUARD_SMTP_URL=smtp://"+freePort(t), "PANGUARD_OUTBOX_MAX_ATTEMPTS=1")...)
		for _, email := range []string{"alice@example.com", "bob@example.com"} {
			if _, err := client(t, p.base).Register(context.Background(), email, "N", "password1"); err != nil {
				t.Fatalf("register %s: %v", email, err)
			}
		}
		var out string
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, stdout, errOut := runCLI(t, env, "outbox", "failed")
			if code != 0 {
				t.Fatalf("outbox failed: exit %d, %s", code, errOut)
			}
			if out = stdout; len(outboxIDRE.FindAllString(out, -1)) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the emails did not fail:\n%s", out)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if !strings.HasPrefix(out, "ID ") || !strings.Contains(out, "LAST ERROR") ||
			!strings.Contains(out, "a***@example.com") || !strings.Contains(out, "b***@example.com") ||
			strings.Count(out, " verify_email ") != 2 || !strings.Contains(out, "connection refused") ||
			!strings.Contains(out, "2 failed; send them again with: panguard-auth outbox retry ID|--all") {
			t.Fatalf("listing:\n%s", out)
		}
		for _, secret := range []string{"alice@", "bob@", "vfy_", "token=", "http://"} {
			if strings.Contains(out, secret) {
				t.Fatalf("the listing shows %q:\n%s", secret, out)
			}
		}
		ids := outboxIDRE.FindAllString(out, -1)

		// Another instance, with a working SMTP server, takes over.
		p.cmd.Process.Kill()
		p.cmd.Wait()
		smtp, smtpURL := mailtest.StartSMTP(t)
		startProcess(t, append(env, "PANGUARD_SMTP_URL="+smtpURL)...)
		code, stdout, errOut := runCLI(t, env, "outbox", "retry", ids[0])
		if code != 0 || stdout != "re-queued 1 message ("+ids[0]+"); running instances send it within seconds\n" {
			t.Fatalf("retry %s: exit %d, stdout %q, stderr %q", ids[0], code, stdout, errOut)
		}
		first := mailtest.Wait(t, smtp, 1)
		code, stdout, errOut = runCLI(t, env, "outbox", "retry", "--all")
		if code != 0 || stdout != "re-queued 1 message(s); running instances send them within seconds\n" {
			t.Fatalf("retry --all: exit %d, stdout %q, stderr %q", code, stdout, errOut)
		}
		msgs := append(first, mailtest.Wait(t, smtp, 1)...)
		var to []string
		for _, m := range msgs {
			if !strings.HasPrefix(m.Subject, "Verify your Panguard") || !verifyTokenRE.MatchString(m.Text) {
				t.Fatalf("email %+v", m)
			}
			to = append(to, strings.Trim(m.To, "<>"))
		}
		slices.Sort(to)
		if !slices.Equal(to, []string{"alice@example.com", "bob@example.com"}) {
			t.Fatalf("delivered to %q", to)
		}

		// Nothing failed any more, so there is nothing to retry.
		if code, stdout, _ := runCLI(t, env, "outbox", "failed"); code != 0 || stdout != "no failed messages\n" {
			t.Fatalf("after the retries: exit %d, %q", code, stdout)
		}
		if code, stdout, errOut := runCLI(t, env, "outbox", "retry", ids[1]); code != 1 || stdout != "" ||
			!strings.Contains(errOut, "no failed message has the id "+ids[1]) {
			t.Fatalf("retrying a sent message: exit %d, stdout %q, stderr %q", code, stdout, errOut)
		}
		if code, stdout, _ := runCLI(t, env, "outbox", "retry", "--all"); code != 0 || stdout != "re-queued 0 message(s); running instances send them within seconds\n" {
			t.Fatalf("retry --all with nothing failed: exit %d, %q", code, stdout)
		}
	})
}

func TestErrorSummaryMasksAddressesAndStaysOneLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "-",
		"553 5.1.1 <alice@example.com>: Recipient address rejected\r\n  (try later)": "553 5.1.1 <a***@example.com>: Recipient address rejected (try later)",
		"rcpt to bob@example.org, carol@example.net failed":                          "rcpt to b***@example.org, c***@example.net failed",
		strings.Repeat("x", 500): strings.Repeat("x", maxErrorLen-1) + "…",
	} {
		if got := errorSummary(in); got != want {
			t.Errorf("errorSummary(%q) = %q, want %q", in, got, want)
		}
	}
}
