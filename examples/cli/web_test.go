package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/sdk"
)

var userCodeRE = regexp.MustCompile(`\b[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}\b`)

// webLogin starts "panguard login --web" for c and returns the code it shows, a function that
// cancels it (Ctrl-C) and one that waits for its outcome.
func webLogin(t *testing.T, c *cli, args ...string) (string, context.CancelFunc, func() outcome) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"login", "--web", "--no-browser"}, args...), strings.NewReader(""), &out, &errOut, func(k string) string { return c.env[k] })
	}()
	wait := func() outcome {
		defer cancel()
		code := <-done
		return outcome{code: code, stdout: out.String(), stderr: errOut.String()}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := userCodeRE.FindString(errOut.String()); m != "" {
			return m, cancel, wait
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no code shown within 10 s: %s", wait())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// owner is the account that approves, signed in to the "dashboard" through the SDK.
func owner(t *testing.T, email string) *sdk.Client {
	t.Helper()
	c, err := sdk.New(liveServer(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Login(context.Background(), email, password)
	if err != nil {
		t.Fatal(err)
	}
	return c.WithToken(s.Token)
}

func TestLoginWeb(t *testing.T) {
	t.Parallel()
	laptop, email := newCLI(t)
	laptop.register(email)
	user := owner(t, email)
	ctx := context.Background()

	t.Run("approved in the browser, the CLI is signed in", func(t *testing.T) {
		t.Parallel()
		box, _ := newCLI(t)
		code, _, wait := webLogin(t, box)
		req, err := user.LookupDevice(ctx, code)
		if err != nil || !strings.HasPrefix(req.ClientName, "panguard CLI") {
			t.Fatalf("lookup: %+v %v", req, err)
		}
		if _, err := user.ApproveDevice(ctx, code, true); err != nil {
			t.Fatal(err)
		}
		o := wait()
		if o.code != 0 {
			t.Fatalf("login --web: %s", o)
		}
		contains(t, "stderr", o.stderr, "open this page in a browser", publicURL+"/device", "enter the code", "Waiting for approval")
		contains(t, "stdout", o.stdout, "Logged in as Test User <"+email+"> through the browser", "credentials saved to")
		contains(t, "whoami", box.must(0, "", "whoami").stdout, email)
		contains(t, "sessions", box.must(0, "", "sessions").stdout, "device", "panguard CLI")
	})
	t.Run("denied in the browser", func(t *testing.T) {
		t.Parallel()
		box, _ := newCLI(t)
		code, _, wait := webLogin(t, box)
		if _, err := user.ApproveDevice(ctx, code, false); err != nil {
			t.Fatal(err)
		}
		o := wait()
		if o.code != 1 || !strings.Contains(o.stderr, "The sign-in was denied in the browser") {
			t.Fatalf("denied: %s", o)
		}
		box.must(1, "", "whoami")
	})
	t.Run("Ctrl-C while waiting", func(t *testing.T) {
		t.Parallel()
		box, _ := newCLI(t)
		_, cancel, wait := webLogin(t, box)
		cancel()
		if o := wait(); o.code != 1 || !strings.Contains(o.stderr, "Interrupted.") {
			t.Fatalf("interrupted: %s", o)
		}
	})
	t.Run("--web with --email is a usage error", func(t *testing.T) {
		t.Parallel()
		box, _ := newCLI(t)
		box.must(2, "", "login", "--web", "--email", email)
	})
}
