package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"time"

	"golang.org/x/oauth2"

	"panguard.ai/auth/sdk"
)

// loginWeb is "panguard login --web": the OAuth 2.0 device authorization grant (RFC 8628)
// run by golang.org/x/oauth2. The CLI shows a URL and a code, the user approves the code in
// the dashboard (where they are signed in, 2FA or passkey done there), and the CLI, polling
// at the server's pace, receives a session token it saves like a password login's.
func (a *app) loginWeb(openBrowser bool) error {
	c, err := a.client("") // checks the URL
	if err != nil {
		return err
	}
	base := a.apiURL()
	flow := sdk.DeviceFlow(base, "")
	ctx := context.WithValue(a.ctx, oauth2.HTTPClient, &http.Client{Timeout: 30 * time.Second})
	da, err := flow.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_name", clientName()))
	if err != nil {
		return deviceError(err)
	}
	w := a.stderr
	fmt.Fprintf(w, "To sign in, open this page in a browser (on any device):\n\n    %s\n\nand enter the code:\n\n    %s\n\n", da.VerificationURI, da.UserCode)
	fmt.Fprintf(w, "Or open %s to have it filled in.\n", da.VerificationURIComplete)
	if openBrowser && browserAvailable(a.env) {
		if err := startBrowser(da.VerificationURIComplete); err == nil {
			fmt.Fprintln(w, "(A browser window was opened.)")
		}
	}
	fmt.Fprintf(w, "Waiting for approval (the code expires at %s; Ctrl-C to cancel)…\n", da.Expiry.Local().Format("15:04"))
	tok, err := flow.DeviceAccessToken(ctx, da)
	if err != nil {
		return deviceError(err)
	}
	me, err := c.WithToken(tok.AccessToken).Me(a.ctx)
	if err != nil {
		return err
	}
	s := &sdk.Session{Token: tok.AccessToken, ExpiresAt: tok.Expiry, User: *me}
	path, err := a.saveSession(s, base)
	if err != nil {
		return err
	}
	return a.result(map[string]any{"user": userJSON(s.User), "expiresAt": s.ExpiresAt.UTC().Format(time.RFC3339), "credentials": path},
		func(w io.Writer) {
			fmt.Fprintf(w, "Logged in as %s <%s> through the browser.\n", s.User.Name, s.User.Email)
			fmt.Fprintf(w, "Session valid until %s; credentials saved to %s.\n", when(s.ExpiresAt), path)
		})
}

// clientName is what the approving user sees: which program on which machine asks.
func clientName() string {
	name := "panguard CLI"
	if h, err := os.Hostname(); err == nil && h != "" {
		name += " on " + h
	}
	if r := []rune(name); len(r) > 100 {
		name = string(r[:100])
	}
	return name
}

// deviceError turns the device flow's failures into messages for people.
func deviceError(err error) error {
	var re *oauth2.RetrieveError
	switch {
	case errors.Is(err, context.Canceled):
		return err // "Interrupted."
	case errors.Is(err, context.DeadlineExceeded):
		// x/oauth2 stops polling when the code's expires_in has passed.
		return &cliError{reason: "expired_token", code: 1, msg: "The code expired before it was approved. Run: panguard login --web (and approve within 10 minutes)"}
	case errors.As(err, &re):
		switch re.ErrorCode {
		case "access_denied":
			return &cliError{reason: "access_denied", code: 1, msg: "The sign-in was denied in the browser. Nothing was saved."}
		case "expired_token":
			return &cliError{reason: "expired_token", code: 1, msg: "The code expired before it was approved. Run: panguard login --web (and approve within 10 minutes)"}
		case "invalid_client":
			return &cliError{reason: "invalid_client", code: 1, msg: "This server does not accept browser sign-in from this CLI (client " + sdk.DefaultDeviceClient + "). Use: panguard login"}
		case "slow_down":
			return &cliError{reason: "rate_limited", code: 1, msg: "Too many sign-in requests from this address; try again in a few minutes."}
		}
		desc := re.ErrorDescription
		if desc == "" {
			desc = re.ErrorCode
		}
		return &cliError{reason: "device_flow_failed", code: 1, msg: "Browser sign-in failed: " + desc}
	}
	return err
}

// browserAvailable reports whether opening a browser can work here: never over SSH without a
// display, in containers or on build machines (the URL and code are printed regardless).
func browserAvailable(env func(string) string) bool {
	switch runtime.GOOS {
	case "darwin", "windows":
		return env("SSH_CONNECTION") == ""
	default:
		return env("DISPLAY") != "" || env("WAYLAND_DISPLAY") != ""
	}
}

// startBrowser opens url in the desktop's browser without waiting for it.
func startBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() //nolint:errcheck // the browser's exit status tells nothing
	return nil
}
