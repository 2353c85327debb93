package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"panguard.ai/auth/sdk"
)

// required fails with a clear message when an answer is empty.
func required(v, what string) (string, error) {
	if v == "" {
		return "", &cliError{reason: "missing_value", msg: fmt.Sprintf("%s is required.", what), code: 1}
	}
	return v, nil
}

// askEmail returns the --email value, or asks for it.
func (a *app) askEmail(flagValue string) (string, error) {
	v, err := a.prompt.valueOr(flagValue, "Email:")
	if err != nil {
		return "", err
	}
	return required(v, "An email address")
}

// askPassword asks for an existing password (without echo on a terminal).
func (a *app) askPassword(label string) (string, error) {
	v, err := a.prompt.secret(label)
	if err != nil {
		return "", err
	}
	return required(v, "The password")
}

// userJSON is the JSON form of a user.
func userJSON(u sdk.User) map[string]any {
	v := map[string]any{
		"id": u.ID, "email": u.Email, "name": u.Name, "tier": u.Tier, "totpEnabled": u.TOTPEnabled,
		"trialEndsAt": timeJSON(u.TrialEndsAt), "emailVerified": u.EmailVerified, "planExpiresAt": timeJSON(u.PlanExpiresAt),
	}
	if u.Role != "" {
		v["role"] = u.Role
	}
	if !u.CreatedAt.IsZero() {
		v["createdAt"] = u.CreatedAt.UTC().Format(time.RFC3339)
	}
	return v
}

// timeJSON is t in RFC 3339 UTC, or nil.
func timeJSON(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// when formats t for people, with how far away it is.
func when(t time.Time) string {
	return whenFrom(t, time.Now())
}

// whenFrom formats t for people, with how far away it is from now, rounded to the nearest
// minute, hour or day: 13 days 23 hours away is "in 14 days", 23 h 59 min "in 24 hours".
func whenFrom(t, now time.Time) string {
	s := t.Local().Format("2006-01-02 15:04 MST")
	d := t.Sub(now)
	if d < 0 {
		return s + " (passed)"
	}
	if m := d.Round(time.Minute) / time.Minute; m < 60 {
		return s + fmt.Sprintf(" (in %s)", plural(int(m), "minute"))
	}
	if h := d.Round(time.Hour) / time.Hour; h < 48 {
		return s + fmt.Sprintf(" (in %s)", plural(int(h), "hour"))
	}
	return s + fmt.Sprintf(" (in %s)", plural(int(d.Round(24*time.Hour)/(24*time.Hour)), "day"))
}

// plural is n and unit, with an s unless n is 1.
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// cmdRegister is "panguard register".
func (a *app) cmdRegister(args []string) error {
	fs := a.flagSet("register", "[--email EMAIL] [--name NAME]",
		"Creates an account on a 14-day Solo trial and logs in. Missing values are asked for;\nthe password is always asked for, twice, without echo.")
	email := fs.String("email", "", "email address")
	name := fs.String("name", "", "your name (1-100 characters)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	e, err := a.askEmail(*email)
	if err != nil {
		return err
	}
	n, err := a.prompt.valueOr(*name, "Name:")
	if err != nil {
		return err
	}
	if n, err = required(n, "A name"); err != nil {
		return err
	}
	pw, err := a.prompt.newPassword("Password (8-128 characters):", "Confirm password:")
	if err != nil {
		return err
	}
	c, err := a.client("")
	if err != nil {
		return err
	}
	reg, err := c.Register(a.ctx, e, n, pw)
	if err != nil {
		return err
	}
	if reg.Session == nil {
		// The email already has an account. The server says only this, on purpose.
		msg := orDefault(reg.Message, "Registration received.")
		return a.result(map[string]any{"loggedIn": false, "message": msg}, func(w io.Writer) {
			fmt.Fprintln(w, msg)
			fmt.Fprintln(w, "No session was started. If you already have an account, run: panguard login")
		})
	}
	path, err := a.saveSession(reg.Session, a.apiURL())
	if err != nil {
		return err
	}
	u := reg.Session.User
	return a.result(map[string]any{"loggedIn": true, "user": userJSON(u), "expiresAt": reg.Session.ExpiresAt.UTC().Format(time.RFC3339), "credentials": path},
		func(w io.Writer) {
			fmt.Fprintf(w, "Welcome, %s! Your account %s is ready.\n", u.Name, u.Email)
			if u.TrialEndsAt != nil {
				fmt.Fprintf(w, "Plan: %s trial, until %s.\n", u.Tier, when(*u.TrialEndsAt))
			} else {
				fmt.Fprintf(w, "Plan: %s.\n", u.Tier)
			}
			fmt.Fprintf(w, "You are logged in; credentials saved to %s.\n", path)
			fmt.Fprintln(w, "Protect your account with two-factor authentication: panguard 2fa setup")
		})
}

// isTOTPCode reports whether s looks like an authenticator code (6 digits).
func isTOTPCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// cmdLogin is "panguard login".
func (a *app) cmdLogin(args []string) error {
	fs := a.flagSet("login", "[--email EMAIL] [--code CODE] | --web [--no-browser]",
		"Logs in and saves the session. The password is asked for without echo. When the account\nhas two-factor authentication on, an authentication code (6 digits) or a backup code is\nasked for, unless --code gives it.\n\nWith --web, signs in through the browser instead: prints a URL and a code to approve in\nthe dashboard (on any device), opens a browser when one is available, and waits.")
	email := fs.String("email", "", "email address")
	code := fs.String("code", "", "authentication code or backup code, used if the server asks for one")
	web := fs.Bool("web", false, "sign in through the browser with a code (no password typed here)")
	noBrowser := fs.Bool("no-browser", false, "with --web: only print the URL and code, never open a browser")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if *web {
		if *email != "" || *code != "" {
			return usageErrorf("--web signs in through the browser: --email and --code do not apply")
		}
		return a.loginWeb(!*noBrowser)
	}
	e, err := a.askEmail(*email)
	if err != nil {
		return err
	}
	pw, err := a.askPassword("Password:")
	if err != nil {
		return err
	}
	c, err := a.client("")
	if err != nil {
		return err
	}
	s, err := c.Login(a.ctx, e, pw)
	if errors.Is(err, sdk.ErrTOTPRequired) {
		second := strings.ReplaceAll(strings.TrimSpace(*code), " ", "")
		if second == "" {
			if second, err = a.prompt.line("Authentication code (or backup code):"); err != nil {
				return err
			}
			second = strings.ReplaceAll(second, " ", "")
		}
		if second, err = required(second, "An authentication code or backup code"); err != nil {
			return err
		}
		opt := sdk.WithBackupCode(second)
		if isTOTPCode(second) {
			opt = sdk.WithTOTPCode(second)
		}
		s, err = c.Login(a.ctx, e, pw, opt)
	}
	if err != nil {
		return err
	}
	path, err := a.saveSession(s, a.apiURL())
	if err != nil {
		return err
	}
	return a.result(map[string]any{"user": userJSON(s.User), "expiresAt": s.ExpiresAt.UTC().Format(time.RFC3339), "credentials": path},
		func(w io.Writer) {
			fmt.Fprintf(w, "Logged in as %s <%s>.\n", s.User.Name, s.User.Email)
			fmt.Fprintf(w, "Session valid until %s; credentials saved to %s.\n", when(s.ExpiresAt), path)
		})
}

// cmdWhoami is "panguard whoami".
func (a *app) cmdWhoami(args []string) error {
	fs := a.flagSet("whoami", "", "Shows the account of the current session.")
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
	v := userJSON(*u)
	if u.MachineLimit != nil {
		v["machineLimit"] = *u.MachineLimit
	} else {
		v["machineLimit"] = nil
	}
	if !u.UpdatedAt.IsZero() {
		v["updatedAt"] = u.UpdatedAt.UTC().Format(time.RFC3339)
	}
	return a.result(v, func(w io.Writer) {
		limit := "unlimited"
		if u.MachineLimit != nil {
			limit = fmt.Sprint(*u.MachineLimit)
		}
		twoFA := "off"
		if u.TOTPEnabled {
			twoFA = "on"
		}
		trial := "none (paid plan)"
		if u.TrialEndsAt != nil {
			trial = when(*u.TrialEndsAt)
		}
		verified := "no (check your inbox, or run: panguard email resend)"
		if u.EmailVerified {
			verified = "yes"
		}
		fmt.Fprintf(w, "Email:          %s\n", u.Email)
		fmt.Fprintf(w, "Email verified: %s\n", verified)
		fmt.Fprintf(w, "Name:           %s\n", u.Name)
		fmt.Fprintf(w, "ID:             %s\n", u.ID)
		fmt.Fprintf(w, "Tier:           %s\n", u.Tier)
		fmt.Fprintf(w, "Machine limit:  %s\n", limit)
		fmt.Fprintf(w, "2FA:            %s\n", twoFA)
		fmt.Fprintf(w, "Trial ends:     %s\n", trial)
		if u.PlanExpiresAt != nil {
			fmt.Fprintf(w, "Plan ends:      %s\n", when(*u.PlanExpiresAt))
		}
		if u.Role != "" && u.Role != "user" {
			fmt.Fprintf(w, "Role:           %s\n", u.Role)
		}
	})
}

// cmdLogout is "panguard logout". A session the server no longer knows still has its
// local credentials deleted; a server that cannot be reached leaves them in place.
func (a *app) cmdLogout(args []string) error {
	fs := a.flagSet("logout", "", "Ends the session on the server and deletes the local credentials.")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	path, err := a.credentialsPath()
	if err != nil {
		return err
	}
	creds, rerr := readCredentials(path)
	c, _, err := a.session()
	if errors.Is(err, errNotLoggedIn) && rerr == nil {
		// A saved session that has expired: nothing to revoke, only the file to remove.
		if err := a.deleteCredentials(); err != nil {
			return err
		}
		return a.alreadyEnded(creds.Email)
	}
	if err != nil {
		return err
	}
	err = c.Logout(a.ctx)
	if errors.Is(err, sdk.ErrUnauthenticated) {
		if err := a.deleteCredentials(); err != nil {
			return err
		}
		return a.alreadyEnded(creds.Email)
	}
	if err != nil {
		// The session may still be valid on the server: keep the token so logout can be retried.
		return err
	}
	if err := a.deleteCredentials(); err != nil {
		return err
	}
	return a.result(map[string]any{"message": "Logged out", "email": creds.Email, "sessionAlreadyEnded": false}, func(w io.Writer) {
		fmt.Fprintf(w, "Logged out %s; local credentials deleted.\n", creds.Email)
	})
}

// alreadyEnded reports a logout whose session had already ended.
func (a *app) alreadyEnded(email string) error {
	msg := "The session had already ended (expired or revoked); local credentials deleted."
	return a.result(map[string]any{"message": msg, "email": email, "sessionAlreadyEnded": true}, func(w io.Writer) {
		fmt.Fprintln(w, msg)
	})
}

// cmd2FASetup is "panguard 2fa setup".
func (a *app) cmd2FASetup(args []string) error {
	fs := a.flagSet("2fa setup", "[--qr-invert]",
		"Starts two-factor setup: shows the secret, its otpauth:// URL as a QR code and 10\nsingle-use backup codes. Finish with: panguard 2fa verify\n\nThe QR code is drawn for light text on a dark background unless --qr-invert,\nPANGUARD_QR_INVERT=1 or COLORFGBG (a light background colour) says otherwise.")
	invert := fs.Bool("qr-invert", false, "draw the QR code for dark text on a light background (--qr-invert=false: for light on dark)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	invertGiven := false
	fs.Visit(func(f *flag.Flag) { invertGiven = invertGiven || f.Name == "qr-invert" })
	inverted := qrInvert(*invert, invertGiven, a.env)
	c, _, err := a.session()
	if err != nil {
		return err
	}
	st, err := c.SetupTotp(a.ctx)
	if err != nil {
		return err
	}
	return a.result(map[string]any{"secret": st.Secret, "otpauthUrl": st.OTPAuthURL, "backupCodes": st.BackupCodes, "enabled": false},
		func(w io.Writer) {
			fmt.Fprintln(w, "Two-factor setup started (not active yet).")
			fmt.Fprintln(w)
			fmt.Fprintln(w, "1. Scan this QR code with your authenticator app:")
			writeQR(w, st.OTPAuthURL, inverted)
			fmt.Fprintf(w, "   or enter the secret by hand: %s\n", st.Secret)
			fmt.Fprintf(w, "   otpauth URL: %s\n", st.OTPAuthURL)
			if inverted {
				fmt.Fprintln(w, "   If your app cannot read the code, run: panguard 2fa setup --qr-invert=false (for a dark background)")
			} else {
				fmt.Fprintln(w, "   If your app cannot read the code, run: panguard 2fa setup --qr-invert (for a light background)")
			}
			fmt.Fprintln(w)
			fmt.Fprintln(w, "2. Save these backup codes somewhere safe. Each works once, when you cannot use your app.")
			fmt.Fprintln(w, "   WARNING: they are shown only this once.")
			printCodes(w, st.BackupCodes)
			fmt.Fprintln(w)
			fmt.Fprintln(w, "3. Turn 2FA on with a code from the app: panguard 2fa verify")
		})
}

// printCodes lists backup codes two per line.
func printCodes(w io.Writer, codes []string) {
	for i := 0; i < len(codes); i += 2 {
		if i+1 < len(codes) {
			fmt.Fprintf(w, "   %-14s %s\n", codes[i], codes[i+1])
		} else {
			fmt.Fprintf(w, "   %s\n", codes[i])
		}
	}
}

// cmd2FAVerify is "panguard 2fa verify".
func (a *app) cmd2FAVerify(args []string) error {
	fs := a.flagSet("2fa verify", "[--code CODE]", "Turns two-factor authentication on with a current code from your authenticator app.")
	code := fs.String("code", "", "the 6-digit code (asked for when absent)")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	v, err := a.prompt.valueOr(*code, "Authentication code:")
	if err != nil {
		return err
	}
	if v, err = required(strings.ReplaceAll(v, " ", ""), "An authentication code"); err != nil {
		return err
	}
	if err := c.VerifyTotp(a.ctx, v); err != nil {
		return err
	}
	return a.result(map[string]any{"enabled": true}, func(w io.Writer) {
		fmt.Fprintln(w, "Two-factor authentication is now enabled. Logins will ask for a code.")
	})
}

// cmd2FADisable is "panguard 2fa disable".
func (a *app) cmd2FADisable(args []string) error {
	fs := a.flagSet("2fa disable", "[--code CODE]",
		"Turns two-factor authentication off and deletes the backup codes. Asks for your password\nand a current authentication code (or a backup code), unless --code gives it.")
	code := codeFlag(fs)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	pw, err := a.askPassword("Password:")
	if err != nil {
		return err
	}
	err = a.reauthenticated(*code, func(opts ...sdk.ReauthOption) error {
		return c.DisableTotp(a.ctx, pw, opts...)
	})
	if err != nil {
		return err
	}
	return a.result(map[string]any{"enabled": false}, func(w io.Writer) {
		fmt.Fprintln(w, "Two-factor authentication is now disabled; the backup codes no longer work.")
	})
}

// cmd2FAStatus is "panguard 2fa status".
func (a *app) cmd2FAStatus(args []string) error {
	fs := a.flagSet("2fa status", "", "Shows whether two-factor authentication is on and how many backup codes are left.")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	st, err := c.GetTotpStatus(a.ctx)
	if err != nil {
		return err
	}
	return a.result(map[string]any{"enabled": st.Enabled, "pending": st.Pending, "backupCodesRemaining": st.BackupCodesRemaining},
		func(w io.Writer) {
			switch {
			case st.Enabled:
				fmt.Fprintln(w, "2FA: on")
				fmt.Fprintf(w, "Backup codes remaining: %d\n", st.BackupCodesRemaining)
				if st.BackupCodesRemaining <= 3 {
					fmt.Fprintln(w, "Running low: make new ones with: panguard 2fa backup-codes")
				}
			case st.Pending:
				fmt.Fprintln(w, "2FA: off (setup started; finish with: panguard 2fa verify)")
			default:
				fmt.Fprintln(w, "2FA: off (turn it on with: panguard 2fa setup)")
			}
		})
}

// cmd2FABackupCodes is "panguard 2fa backup-codes".
func (a *app) cmd2FABackupCodes(args []string) error {
	fs := a.flagSet("2fa backup-codes", "[--code CODE]",
		"Replaces every backup code with 10 new ones. Asks for your password and a current\nauthentication code (or a backup code), unless --code gives it.")
	code := codeFlag(fs)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	c, _, err := a.session()
	if err != nil {
		return err
	}
	pw, err := a.askPassword("Password:")
	if err != nil {
		return err
	}
	var codes []string
	err = a.reauthenticated(*code, func(opts ...sdk.ReauthOption) error {
		var err error
		codes, err = c.RegenerateBackupCodes(a.ctx, pw, opts...)
		return err
	})
	if err != nil {
		return err
	}
	return a.result(map[string]any{"backupCodes": codes}, func(w io.Writer) {
		fmt.Fprintln(w, "New backup codes (the old ones no longer work). Each works once.")
		fmt.Fprintln(w, "WARNING: they are shown only this once; save them somewhere safe.")
		printCodes(w, codes)
	})
}

// cmdForgotPassword is "panguard forgot-password".
func (a *app) cmdForgotPassword(args []string) error {
	fs := a.flagSet("forgot-password", "[--email EMAIL]", "Asks the server to email a password reset link.")
	email := fs.String("email", "", "email address of the account")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	e, err := a.askEmail(*email)
	if err != nil {
		return err
	}
	c, err := a.client("")
	if err != nil {
		return err
	}
	msg, err := c.ForgotPassword(a.ctx, e)
	if err != nil {
		return err
	}
	return a.result(map[string]any{"message": msg}, func(w io.Writer) {
		fmt.Fprintln(w, msg)
		fmt.Fprintln(w, "The link is valid for one hour. Then run: panguard reset-password")
	})
}

// resetToken accepts the token itself or the whole link from the email.
func resetToken(s string) string {
	s = strings.TrimSpace(s)
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		if t := u.Query().Get("token"); t != "" {
			return t
		}
	}
	return s
}

// cmdResetPassword is "panguard reset-password".
func (a *app) cmdResetPassword(args []string) error {
	fs := a.flagSet("reset-password", "[--token TOKEN]",
		"Sets a new password with the token (or the whole link) from the reset email. The new\npassword is asked for twice without echo. Every session of the account is signed out.")
	token := fs.String("token", "", "reset token (rst_…) or the link from the email")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	t, err := a.prompt.valueOr(*token, "Reset token (or the link from the email):")
	if err != nil {
		return err
	}
	if t, err = required(resetToken(t), "The reset token"); err != nil {
		return err
	}
	pw, err := a.prompt.newPassword("New password (8-128 characters):", "Confirm new password:")
	if err != nil {
		return err
	}
	c, err := a.client("")
	if err != nil {
		return err
	}
	if err := c.ResetPassword(a.ctx, t, pw); err != nil {
		return err
	}
	return a.result(map[string]any{"message": "Password reset successfully"}, func(w io.Writer) {
		fmt.Fprintln(w, "Your password has been changed and every session of the account was signed out.")
		fmt.Fprintln(w, "Log in again with: panguard login")
	})
}
