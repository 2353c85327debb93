package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"panguard.ai/auth/sdk"
)

// app is the state of one invocation: where output goes, the global flags, and the one
// prompter that reads stdin.
type app struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	env    func(string) string
	prompt *prompter

	apiFlag string // --api as given ("" when absent)
	json    bool   // --json
}

// globalFlags binds --api and --json on fs. Every subcommand's FlagSet has them too, with
// the current values as defaults, so they work before or after the command name.
func (a *app) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.apiFlag, "api", a.apiFlag, "server URL (default $PANGUARD_API_URL, else the saved URL, else "+defaultAPIURL+")")
	fs.BoolVar(&a.json, "json", a.json, "machine-readable JSON output on stdout")
}

// flagSet returns the FlagSet of a subcommand; synopsis follows "panguard <name>" in its help.
func (a *app) flagSet(name, synopsis, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("panguard "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.globalFlags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: panguard %s %s\n\n%s\n\nFlags:\n", name, synopsis, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a subcommand's arguments. It returns flag.ErrHelp after printing the help for
// -h, and a usage error for bad flags or stray arguments.
func (a *app) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(a.stdout)
			fs.Usage()
			return flag.ErrHelp
		}
		return usageErrorf("%v (run: %s -h)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q (run: %s -h)", fs.Arg(0), fs.Name())
	}
	return nil
}

// apiURL is the server to talk to: --api, else PANGUARD_API_URL, else the URL saved in the
// credentials file, else defaultAPIURL.
func (a *app) apiURL() string {
	if a.apiFlag != "" {
		return a.apiFlag
	}
	if u := a.env("PANGUARD_API_URL"); u != "" {
		return u
	}
	if path, err := a.credentialsPath(); err == nil {
		if c, err := readCredentials(path); err == nil && c.APIURL != "" {
			return c.APIURL
		}
	}
	return defaultAPIURL
}

// client returns an SDK client of the server, authenticated with token when it is not "".
func (a *app) client(token string) (*sdk.Client, error) {
	opts := []sdk.Option{sdk.WithUserAgent("panguard-cli")}
	if token != "" {
		opts = append(opts, sdk.WithToken(token))
	}
	c, err := sdk.New(a.apiURL(), opts...)
	if err != nil {
		return nil, usageErrorf("invalid server URL %q: it must start with http:// or https://", a.apiURL())
	}
	return c, nil
}

// session returns a client bound to the saved session, or errNotLoggedIn when there is no
// saved session or it has expired.
func (a *app) session() (*sdk.Client, *credentials, error) {
	path, err := a.credentialsPath()
	if err != nil {
		return nil, nil, err
	}
	creds, err := readCredentials(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, errNotLoggedIn
	}
	if err != nil {
		return nil, nil, &cliError{reason: "bad_credentials_file", code: 1,
			msg: fmt.Sprintf("Cannot read the credentials file %s: %v. Run: panguard login", path, err)}
	}
	if creds.Token == "" || !creds.expiresAt().After(time.Now()) {
		return nil, nil, errNotLoggedIn
	}
	// The token belongs to the server that issued it: never send it anywhere else.
	if want := a.apiURL(); creds.APIURL != "" && strings.TrimRight(want, "/") != strings.TrimRight(creds.APIURL, "/") {
		return nil, nil, &cliError{reason: "other_server", code: 1,
			msg: fmt.Sprintf("You are logged in to %s, not %s. Run: panguard --api %s login", creds.APIURL, want, want)}
	}
	c, err := a.client(creds.Token)
	if err != nil {
		return nil, nil, err
	}
	return c, creds, nil
}

// result prints a command's outcome: v as one JSON object under --json, else human(stdout).
// v gets "ok": true added.
func (a *app) result(v map[string]any, human func(w io.Writer)) error {
	if a.json {
		v["ok"] = true
		return a.writeJSON(v)
	}
	human(a.stdout)
	return nil
}

// writeJSON writes v as one line of JSON on stdout.
func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// cliError is a failure detected by the CLI itself, with its stable reason and exit code.
type cliError struct {
	reason string
	msg    string
	code   int
}

// Error returns the message for people.
func (e *cliError) Error() string { return e.msg }

// usageErrorf is a usage error (exit status 2).
func usageErrorf(format string, args ...any) error {
	return &cliError{reason: "usage", msg: fmt.Sprintf(format, args...), code: 2}
}

// errNotLoggedIn is returned by commands that need a session when none is saved.
var errNotLoggedIn = &cliError{reason: "not_logged_in", msg: "Not logged in. Run: panguard login", code: 1}

// fail reports err (on stderr, or as a JSON object on stdout under --json) and returns the
// exit status.
func (a *app) fail(err error) int {
	reason, msg, code := a.explain(err)
	if a.json {
		v := map[string]any{"ok": false, "reason": reason, "error": msg}
		var se *sdk.Error
		if errors.As(err, &se) && se.RetryAfter > 0 {
			v["retryAfterSeconds"] = int(se.RetryAfter.Seconds())
		}
		if werr := a.writeJSON(v); werr != nil {
			fmt.Fprintln(a.stderr, msg)
		}
	} else {
		fmt.Fprintln(a.stderr, msg)
	}
	return code
}

// explain turns err into a stable reason, a message for people and an exit status.
func (a *app) explain(err error) (reason, msg string, code int) {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.reason, ce.msg, ce.code
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		return se.Reason, serverMessage(se), 1
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted", "Interrupted.", 1
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "network", fmt.Sprintf("Cannot reach the Panguard Auth server at %s: %s. Check that it is running, or choose another server with --api or PANGUARD_API_URL.",
			a.apiURL(), networkCause(ue)), 1
	}
	return "error", fmt.Sprintf("Unexpected error talking to the Panguard Auth server at %s: %v", a.apiURL(), err), 1
}

// networkCause says in a few words why a request did not reach the server.
func networkCause(ue *url.Error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(ue, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(ue, &dnsErr):
		return "host " + dnsErr.Name + " not found"
	case ue.Timeout():
		return "no answer in time"
	}
	return ue.Err.Error()
}

// serverMessage is the message for people of an error answered by the server.
func serverMessage(e *sdk.Error) string {
	switch e.Reason {
	case sdk.ErrInvalidCredentials.Reason:
		return "Invalid email or password."
	case sdk.ErrTOTPRequired.Reason:
		return "This account has two-factor authentication on: an authentication code or a backup code is required."
	case sdk.ErrInvalidTOTPCode.Reason:
		return "The authentication code is wrong, expired or was already used (a backup code works once). Try again with the current code."
	case sdk.ErrUnauthenticated.Reason:
		return "Your session is no longer valid (it expired, was logged out or was revoked). Run: panguard login"
	case sdk.ErrInvalidResetToken.Reason:
		return "The reset token is invalid, already used or expired. Ask for a new one with: panguard forgot-password"
	case sdk.ErrInvalidPassword.Reason:
		return "Wrong password."
	case sdk.ErrAlreadyEnabled.Reason:
		return "Two-factor authentication is already enabled. To start over, run: panguard 2fa disable"
	case sdk.ErrTOTPNotSetUp.Reason:
		return "There is no two-factor setup to confirm. Run first: panguard 2fa setup"
	case sdk.ErrTOTPNotEnabled.Reason:
		return "Two-factor authentication is not enabled on this account. Turn it on with: panguard 2fa setup"
	case sdk.ErrInvalidToken.Reason:
		return "The link or token is invalid, already used or expired. Ask for a new one (panguard email resend, or panguard email change again)."
	case sdk.ErrEmailTaken.Reason:
		return "That email address now belongs to another account; the change was not made."
	case sdk.ErrInvalidCursor.Reason:
		return "The page cursor is not one the server issued. Start again from the first page."
	case sdk.ErrNotFound.Reason:
		return "Not found: " + orDefault(e.Message, "the server has no such item")
	case sdk.ErrForbidden.Reason:
		return "Not allowed: " + orDefault(e.Message, "this account may not do that")
	case sdk.ErrConflict.Reason:
		return "Refused: " + orDefault(e.Message, "the request conflicts with the current state")
	case sdk.ErrSuspended.Reason:
		return "This account is suspended by an administrator: it cannot sign in. Contact support."
	case sdk.ErrValidation.Reason:
		return "Invalid input: " + orDefault(e.Message, "the server refused the values given")
	case sdk.ErrInvalidJSON.Reason:
		return "The server could not read the request: " + orDefault(e.Message, "invalid JSON")
	case sdk.ErrRateLimited.Reason:
		if s := int(e.RetryAfter.Seconds()); s > 0 {
			return fmt.Sprintf("Too many requests. Try again in %d seconds.", s)
		}
		return "Too many requests. Wait a minute and try again."
	case sdk.ErrUnavailable.Reason:
		if s := int(e.RetryAfter.Seconds()); s > 0 {
			return fmt.Sprintf("The Panguard Auth service is temporarily unavailable. Try again in %d seconds.", s)
		}
		return "The Panguard Auth service is temporarily unavailable. Try again shortly."
	case sdk.ErrInternal.Reason:
		return "The Panguard Auth server had an internal error (" + orDefault(e.Message, "no details") + "). Try again later."
	}
	return fmt.Sprintf("The server refused the request: %s (%s).", orDefault(e.Message, "no details"), e.Reason)
}

// orDefault is s, or def when s is blank.
func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
