package main

// Account self-service commands: sessions, passwd, email, activity, export, delete-account.

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"panguard.ai/auth/sdk"
)

// parseWithArgs parses a subcommand's flags and returns its positional arguments, which may
// come before, between or after the flags ("revoke ID --json" and "revoke --json ID" both
// work; after "--" everything is positional). It fails with a usage error unless there are
// between min and max of them.
func (a *app) parseWithArgs(fs *flag.FlagSet, args []string, min, max int, what string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(a.stdout)
				fs.Usage()
				return nil, flag.ErrHelp
			}
			return nil, usageErrorf("%v (run: %s -h)", err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) > max:
		return nil, usageErrorf("unexpected argument %q (run: %s -h)", pos[max], fs.Name())
	case len(pos) < min:
		return nil, usageErrorf("missing %s (run: %s -h)", what, fs.Name())
	}
	return pos, nil
}

// secondFactorOption turns a code typed by the user into the matching SDK option: six
// digits are an authenticator code, anything else a backup code.
func secondFactorOption(code string) sdk.ReauthOption {
	if isTOTPCode(code) {
		return sdk.WithReauthTOTP(code)
	}
	return sdk.WithReauthBackupCode(code)
}

// reauthenticated runs op, which re-authenticates on the server (password plus, with 2FA
// on, a code). With codeFlag set the code is sent at once; otherwise op is first tried
// without one and, when the server answers totp_required, the code is asked for and op runs
// again with it.
func (a *app) reauthenticated(codeFlag string, op func(opts ...sdk.ReauthOption) error) error {
	if code := strings.ReplaceAll(strings.TrimSpace(codeFlag), " ", ""); code != "" {
		return op(secondFactorOption(code))
	}
	err := op()
	if !errors.Is(err, sdk.ErrTOTPRequired) {
		return err
	}
	code, err := a.prompt.line("Authentication code (or backup code):")
	if err != nil {
		return err
	}
	if code, err = required(strings.ReplaceAll(code, " ", ""), "An authentication code or backup code"); err != nil {
		return err
	}
	return op(secondFactorOption(code))
}

// codeFlag binds --code, the second factor of a re-authenticated command.
func codeFlag(fs *flag.FlagSet) *string {
	return fs.String("code", "", "authentication code or backup code, sent at once (else asked for if the server needs one)")
}

// sessionJSON is the JSON form of a session.
func sessionJSON(s sdk.SessionInfo) map[string]any {
	return map[string]any{
		"id": s.ID, "current": s.Current, "method": s.Method, "ip": s.IP, "userAgent": s.UserAgent,
		"createdAt":  s.CreatedAt.UTC().Format(time.RFC3339),
		"lastSeenAt": s.LastSeenAt.UTC().Format(time.RFC3339),
		"expiresAt":  s.ExpiresAt.UTC().Format(time.RFC3339),
	}
}

// ago formats a past time for people: "just now", "5 minutes ago", or the date.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02 15:04")
}

// clip shortens s to n characters for a table cell, "-" when empty.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ") // no tabs or newlines inside a cell
	if s == "" {
		return "-"
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// cmdSessions is "panguard sessions".
func (a *app) cmdSessions(args []string) error {
	fs := a.flagSet("sessions", "", "Lists the account's sessions, newest first; * marks this one.\nEnd one with: panguard sessions revoke ID (or --others for all but this one).")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	list, err := c.ListSessions(a.ctx)
	if err != nil {
		return err
	}
	js := make([]map[string]any, 0, len(list))
	for _, s := range list {
		js = append(js, sessionJSON(s))
	}
	return a.result(map[string]any{"sessions": js}, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCURRENT\tMETHOD\tIP\tUSER AGENT\tLAST SEEN")
		for _, s := range list {
			cur := ""
			if s.Current {
				cur = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, cur, clip(s.Method, 12), clip(s.IP, 39), clip(s.UserAgent, 40), ago(s.LastSeenAt))
		}
		tw.Flush()
		fmt.Fprintf(w, "%d session(s).\n", len(list))
	})
}

// cmdSessionsRevoke is "panguard sessions revoke".
func (a *app) cmdSessionsRevoke(args []string) error {
	fs := a.flagSet("sessions revoke", "ID | --others",
		"Ends one session (its id from: panguard sessions) at once, or with --others every session\nbut this one. Revoking this session logs you out and deletes the local credentials.")
	others := fs.Bool("others", false, "end every session except this one")
	pos, err := a.parseWithArgs(fs, args, 0, 1, "session id")
	if err != nil {
		return err
	}
	switch {
	case *others && len(pos) > 0:
		return usageErrorf("give either a session id or --others, not both (run: panguard sessions revoke -h)")
	case !*others && len(pos) == 0:
		return usageErrorf("missing session id, or --others (run: panguard sessions revoke -h)")
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	if *others {
		n, err := c.RevokeOtherSessions(a.ctx)
		if err != nil {
			return err
		}
		return a.result(map[string]any{"revoked": n}, func(w io.Writer) {
			fmt.Fprintf(w, "Revoked %d other session(s); this one stays logged in.\n", n)
		})
	}
	id := strings.TrimSpace(pos[0])
	// Is it this session? Then the local credentials die with it.
	list, err := c.ListSessions(a.ctx)
	if err != nil {
		return err
	}
	current := false
	for _, s := range list {
		current = current || (s.ID == id && s.Current)
	}
	if err := c.RevokeSession(a.ctx, id); err != nil {
		if errors.Is(err, sdk.ErrNotFound) {
			return &cliError{reason: sdk.ErrNotFound.Reason, code: 1,
				msg: fmt.Sprintf("No session %q on this account. List them with: panguard sessions", id)}
		}
		return err
	}
	if current {
		if err := a.deleteCredentials(); err != nil {
			return err
		}
	}
	return a.result(map[string]any{"revoked": 1, "id": id, "current": current}, func(w io.Writer) {
		if current {
			fmt.Fprintf(w, "Revoked session %s, the one this CLI was using: you are logged out; local credentials deleted.\n", id)
			return
		}
		fmt.Fprintf(w, "Revoked session %s.\n", id)
	})
}

// cmdPasswd is "panguard passwd".
func (a *app) cmdPasswd(args []string) error {
	fs := a.flagSet("passwd", "[--code CODE]",
		"Changes your password. Asks for the current password, then the new one twice, without\necho; with two-factor authentication on, also for a code. Every other session of the\naccount is signed out; this one stays logged in.")
	code := codeFlag(fs)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	cur, err := a.askPassword("Current password:")
	if err != nil {
		return err
	}
	pw, err := a.prompt.newPassword("New password (8-128 characters):", "Confirm new password:")
	if err != nil {
		return err
	}
	err = a.reauthenticated(*code, func(opts ...sdk.ReauthOption) error {
		return c.ChangePassword(a.ctx, cur, pw, opts...)
	})
	if err != nil {
		return err
	}
	return a.result(map[string]any{"message": "Password changed"}, func(w io.Writer) {
		fmt.Fprintln(w, "Password changed. Every other session of the account was signed out; this one stays logged in.")
	})
}

// usageEmail lists the email subcommands.
func usageEmail(w io.Writer) {
	fmt.Fprintln(w, "Usage: panguard email <change|confirm|verify|resend> [flags]")
	fmt.Fprintln(w)
	listCommands(w, "email ")
}

// cmdEmailChange is "panguard email change".
func (a *app) cmdEmailChange(args []string) error {
	fs := a.flagSet("email change", "NEW_EMAIL [--code CODE]",
		"Asks to move the account to NEW_EMAIL. Asks for your password (and a code with 2FA on).\nA confirmation link goes to the new address; the change happens when it is opened\n(or with: panguard email confirm TOKEN).")
	code := codeFlag(fs)
	pos, err := a.parseWithArgs(fs, args, 1, 1, "new email address")
	if err != nil {
		return err
	}
	newEmail := strings.TrimSpace(pos[0])
	c, _, err := a.session()
	if err != nil {
		return err
	}
	pw, err := a.askPassword("Password:")
	if err != nil {
		return err
	}
	var msg string
	err = a.reauthenticated(*code, func(opts ...sdk.ReauthOption) error {
		var err error
		msg, err = c.ChangeEmail(a.ctx, newEmail, pw, opts...)
		return err
	})
	if err != nil {
		return err
	}
	return a.result(map[string]any{"message": msg, "newEmail": newEmail}, func(w io.Writer) {
		fmt.Fprintln(w, msg)
		fmt.Fprintf(w, "Open the link sent to %s within one hour, or run: panguard email confirm TOKEN\n", newEmail)
		fmt.Fprintln(w, "Until then the account keeps its current address.")
	})
}

// tokenArg returns the token given as the argument, or asks for it; a whole link works too.
func (a *app) tokenArg(pos []string, label string) (string, error) {
	v := ""
	if len(pos) > 0 {
		v = pos[0]
	}
	v, err := a.prompt.valueOr(v, label)
	if err != nil {
		return "", err
	}
	return required(resetToken(v), "The token")
}

// cmdEmailConfirm is "panguard email confirm".
func (a *app) cmdEmailConfirm(args []string) error {
	fs := a.flagSet("email confirm", "[TOKEN | LINK]",
		"Completes an email change with the token (eml_…) or the whole link sent to the new address.\nNo session is needed.")
	pos, err := a.parseWithArgs(fs, args, 0, 1, "token")
	if err != nil {
		return err
	}
	t, err := a.tokenArg(pos, "Token (or the link from the email):")
	if err != nil {
		return err
	}
	c, err := a.client("")
	if err != nil {
		return err
	}
	u, err := c.ConfirmEmail(a.ctx, t)
	if err != nil {
		return err
	}
	return a.result(map[string]any{"user": userJSON(*u)}, func(w io.Writer) {
		fmt.Fprintf(w, "Email changed: the account's address is now %s (verified).\n", u.Email)
	})
}

// cmdEmailVerify is "panguard email verify".
func (a *app) cmdEmailVerify(args []string) error {
	fs := a.flagSet("email verify", "[TOKEN | LINK]",
		"Verifies the account's address with the token (vfy_…) or the whole link from the\nverification email. No session is needed.")
	pos, err := a.parseWithArgs(fs, args, 0, 1, "token")
	if err != nil {
		return err
	}
	t, err := a.tokenArg(pos, "Token (or the link from the email):")
	if err != nil {
		return err
	}
	c, err := a.client("")
	if err != nil {
		return err
	}
	if err := c.VerifyEmail(a.ctx, t); err != nil {
		return err
	}
	return a.result(map[string]any{"emailVerified": true}, func(w io.Writer) {
		fmt.Fprintln(w, "Email address verified.")
	})
}

// cmdEmailResend is "panguard email resend".
func (a *app) cmdEmailResend(args []string) error {
	fs := a.flagSet("email resend", "", "Asks for a new verification email (at most one every 5 minutes).")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	msg, err := c.ResendVerification(a.ctx)
	if err != nil {
		return err
	}
	return a.result(map[string]any{"message": msg}, func(w io.Writer) {
		fmt.Fprintln(w, msg)
		fmt.Fprintln(w, "Then open the link, or run: panguard email verify TOKEN")
	})
}

// eventJSON is the JSON form of an activity event.
func eventJSON(e sdk.Event) map[string]any {
	v := map[string]any{"id": e.ID, "type": e.Type, "at": e.At.UTC().Format(time.RFC3339), "ip": e.IP,
		"userAgent": e.UserAgent, "actor": e.Actor}
	if e.Detail != nil {
		v["detail"] = e.Detail
	}
	return v
}

// detailText is an event's detail as compact JSON ("" when there is none).
func detailText(d map[string]any) string {
	if len(d) == 0 {
		return ""
	}
	b, err := json.Marshal(d)
	if err != nil {
		return ""
	}
	return string(b)
}

// cmdActivity is "panguard activity".
func (a *app) cmdActivity(args []string) error {
	fs := a.flagSet("activity", "[--limit N] [--before CURSOR]",
		"Shows the account's security activity (logins, password and 2FA changes…), newest first.\nWhen there is more, it prints the command for the next page.")
	limit := fs.Int("limit", 0, "events per page, 1-100 (default 50)")
	before := fs.String("before", "", "cursor of the next page, as printed by the previous one")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	limitSet := false
	fs.Visit(func(f *flag.Flag) { limitSet = limitSet || f.Name == "limit" })
	if limitSet && (*limit < 1 || *limit > 100) {
		return usageErrorf("--limit must be between 1 and 100, got %d", *limit)
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	page, err := c.ListActivity(a.ctx, *limit, strings.TrimSpace(*before))
	if errors.Is(err, sdk.ErrInvalidCursor) {
		return &cliError{reason: sdk.ErrInvalidCursor.Reason, code: 1,
			msg: "The --before cursor is not one the server issued. Start again with: panguard activity"}
	}
	if err != nil {
		return err
	}
	js := make([]map[string]any, 0, len(page.Events))
	for _, e := range page.Events {
		js = append(js, eventJSON(e))
	}
	var next any
	if page.NextCursor != "" {
		next = page.NextCursor
	}
	return a.result(map[string]any{"events": js, "nextCursor": next}, func(w io.Writer) {
		if len(page.Events) == 0 {
			fmt.Fprintln(w, "No activity.")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "WHEN\tEVENT\tBY\tIP\tDETAIL")
		for _, e := range page.Events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Type, clip(e.Actor, 40), clip(e.IP, 39), clip(detailText(e.Detail), 60))
		}
		tw.Flush()
		if page.NextCursor != "" {
			more := "panguard activity --before " + page.NextCursor
			if limitSet {
				more = fmt.Sprintf("panguard activity --limit %d --before %s", *limit, page.NextCursor)
			}
			fmt.Fprintf(w, "More: %s\n", more)
		}
	})
}

// cmdExport is "panguard export".
func (a *app) cmdExport(args []string) error {
	fs := a.flagSet("export", "[-o FILE]",
		"Downloads everything the service holds about your account (profile, sessions, activity,\n2FA status, passkeys; never a secret) as JSON: to FILE (created or replaced, readable\nby you only) or to stdout.")
	out := fs.String("o", "", "write the export to this file (mode 0600) instead of stdout")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	x, err := c.ExportAccount(a.ctx)
	if err != nil {
		return err
	}
	raw := x.JSON
	if len(raw) == 0 {
		return &cliError{reason: "error", code: 1, msg: "The server's export was empty."}
	}
	if *out == "" {
		if a.json {
			return a.writeJSON(map[string]any{"ok": true, "export": raw})
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := a.stdout.Write(buf.Bytes())
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	if err := writeFileAtomic(*out, buf.Bytes(), 0o600); err != nil {
		return &cliError{reason: "write_failed", code: 1, msg: fmt.Sprintf("Cannot write the export to %s: %v", *out, err)}
	}
	return a.result(map[string]any{"file": *out, "bytes": buf.Len()}, func(w io.Writer) {
		fmt.Fprintf(w, "Account data of %s exported to %s (%d sessions, %d activity events, %d passkeys).\n",
			x.User.Email, *out, len(x.Sessions), len(x.Activity), len(x.Passkeys))
		fmt.Fprintln(w, "The file is readable by you only; it holds personal data, keep it safe.")
	})
}

// cmdDeleteAccount is "panguard delete-account".
func (a *app) cmdDeleteAccount(args []string) error {
	fs := a.flagSet("delete-account", "[--code CODE]",
		"Deletes your account and everything kept about it, for good. You confirm by typing the\naccount's email address, then your password (and a code with 2FA on). Every session ends\nand the local credentials are deleted.")
	code := codeFlag(fs)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	u, err := c.Me(a.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "This permanently deletes the account %s and all its data (sessions, 2FA, activity).\n", u.Email)
	fmt.Fprintln(a.stderr, "It cannot be undone. Consider first: panguard export -o panguard-account-export.json")
	typed, err := a.prompt.line("Type the account's email address to confirm:")
	if err != nil {
		return err
	}
	if typed != u.Email {
		return &cliError{reason: "not_confirmed", code: 1,
			msg: "The email address typed does not match the account's; nothing was deleted."}
	}
	pw, err := a.askPassword("Password:")
	if err != nil {
		return err
	}
	err = a.reauthenticated(*code, func(opts ...sdk.ReauthOption) error {
		return c.DeleteAccount(a.ctx, pw, opts...)
	})
	if err != nil {
		return err
	}
	if err := a.deleteCredentials(); err != nil {
		return err
	}
	return a.result(map[string]any{"deleted": true, "email": u.Email}, func(w io.Writer) {
		fmt.Fprintf(w, "Account %s deleted; local credentials removed. Goodbye.\n", u.Email)
	})
}
