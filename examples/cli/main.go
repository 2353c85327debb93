// Command panguard is a command-line client of Panguard Auth, built only on the public SDK
// (panguard.ai/auth/sdk): register, log in (with two-factor authentication), show the
// current account, manage TOTP and backup codes, reset a forgotten password, and manage the
// account itself: sessions, password and email changes, security activity, export, deletion;
// and, with an admin account, administer every account (panguard admin).
//
// Usage:
//
//	panguard [--api URL] [--json] <command> [flags]
//
// Run "panguard help" for the list of commands. See README.md next to this file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// defaultAPIURL is the server used when neither --api, PANGUARD_API_URL nor the saved
// credentials name one.
const defaultAPIURL = "http://localhost:3000"

// main runs the command with the process's arguments, streams and environment.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// command is one subcommand: its name as typed, a one-line summary for the usage text and
// the function that runs it with the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(a *app, args []string) error
}

// commands lists every subcommand in the order the usage text shows them.
var commands = []command{
	{"register", "create an account (14-day Solo trial) and log in", (*app).cmdRegister},
	{"login", "log in; asks for an authentication code when 2FA is on (--web: through the browser)", (*app).cmdLogin},
	{"whoami", "show the account of the current session", (*app).cmdWhoami},
	{"logout", "end the session on the server and delete the local credentials", (*app).cmdLogout},
	{"2fa setup", "start two-factor setup: secret, QR code and backup codes", (*app).cmd2FASetup},
	{"2fa verify", "confirm two-factor setup with a code from your app", (*app).cmd2FAVerify},
	{"2fa disable", "turn two-factor authentication off (asks for your password and a code)", (*app).cmd2FADisable},
	{"2fa status", "show whether 2FA is on and how many backup codes are left", (*app).cmd2FAStatus},
	{"2fa backup-codes", "replace all backup codes with 10 new ones (password and a code)", (*app).cmd2FABackupCodes},
	{"sessions", "list your sessions (* marks this one)", (*app).cmdSessions},
	{"sessions revoke", "end a session by id, or --others for all but this one", (*app).cmdSessionsRevoke},
	{"passwd", "change your password (other sessions are signed out)", (*app).cmdPasswd},
	{"email change", "move the account to a new address (confirmed by email)", (*app).cmdEmailChange},
	{"email confirm", "complete an email change with the emailed token or link", (*app).cmdEmailConfirm},
	{"email verify", "verify your address with the emailed token or link", (*app).cmdEmailVerify},
	{"email resend", "send the verification email again", (*app).cmdEmailResend},
	{"activity", "show security activity, newest first (--limit, --before)", (*app).cmdActivity},
	{"export", "download all data held about your account as JSON (-o FILE)", (*app).cmdExport},
	{"delete-account", "delete your account for good (asks you to type your email)", (*app).cmdDeleteAccount},
	{"forgot-password", "email yourself a password reset link", (*app).cmdForgotPassword},
	{"reset-password", "set a new password with the token from the reset email", (*app).cmdResetPassword},
	{"admin users", "admin: list accounts, newest first ([QUERY], --tier, --limit, --cursor)", (*app).cmdAdminUsers},
	{"admin user", "admin: show one account in detail (ID)", (*app).cmdAdminUser},
	{"admin plan", "admin: put an account on a tier (ID TIER [--until DATE])", (*app).cmdAdminPlan},
	{"admin suspend", "admin: suspend an account and end its sessions (ID --reason TEXT)", (*app).cmdAdminSuspend},
	{"admin unsuspend", "admin: lift a suspension (ID)", (*app).cmdAdminUnsuspend},
	{"admin revoke-sessions", "admin: end every session of an account (ID)", (*app).cmdAdminRevokeSessions},
	{"admin reset-2fa", "admin: remove a lost second factor (ID --reason TEXT)", (*app).cmdAdminReset2FA},
	{"admin delete-user", "admin: delete an account for good (ID; asks you to type its email)", (*app).cmdAdminDeleteUser},
	{"admin audit", "admin: security events of every account, newest first", (*app).cmdAdminAudit},
	{"help", "show this help", nil},
}

// usage writes the top-level help text to w.
func usage(w io.Writer) {
	fmt.Fprint(w, `panguard — command-line client of Panguard Auth

Usage:
  panguard [--api URL] [--json] <command> [flags]

Commands:
`)
	listCommands(w, "")
	fmt.Fprintf(w, `
Commands that prove it is you (passwd, email change, delete-account, 2fa disable,
2fa backup-codes) ask for your password and, when two-factor authentication is on, for a
code (or take it with --code). The admin commands need the session of an admin account.

Global flags (also accepted after the command):
  --api URL   server to talk to (default: $PANGUARD_API_URL, else the URL saved at login,
              else %s)
  --json      print one JSON object per command on stdout, errors included

Run "panguard <command> -h" for the flags of a command.

Environment:
  PANGUARD_API_URL     default server URL
  PANGUARD_CONFIG_DIR  directory of credentials.json (default ~/.panguard)
  PANGUARD_QR_INVERT   1: draw the 2fa setup QR code for a light background (see --qr-invert)

Exit status: 0 on success, 1 on errors, 2 on usage errors.
`, defaultAPIURL)
}

// run is the whole program: it parses args (without the program name), talks to the server
// and returns the exit status. Prompts and diagnostics go to stderr, results to stdout;
// env reads the environment (os.Getenv in main, a map in tests).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) int {
	a := &app{ctx: ctx, stdout: stdout, stderr: stderr, env: env, prompt: newPrompter(stdin, stderr)}

	fs := flag.NewFlagSet("panguard", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		return a.fail(usageErrorf("%v", err))
	}
	rest := fs.Args()
	if len(rest) == 0 {
		usage(stderr)
		return 2
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		usage(stdout)
		return 0
	}
	switch name {
	case "2fa", "email", "admin":
		// Groups whose subcommand is required.
		if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
			switch name {
			case "2fa":
				usage2FA(stderr)
			case "email":
				usageEmail(stderr)
			default:
				usageAdmin(stderr)
			}
			if len(rest) == 0 {
				return 2
			}
			return 0
		}
		name, rest = name+" "+rest[0], rest[1:]
	case "sessions":
		// "sessions" alone lists; "sessions revoke …" revokes.
		if len(rest) > 0 && rest[0] == "revoke" {
			name, rest = "sessions revoke", rest[1:]
		}
	}
	for _, c := range commands {
		if c.name == name && c.run != nil {
			if err := c.run(a, rest); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return 0
				}
				return a.fail(err)
			}
			return 0
		}
	}
	return a.fail(usageErrorf("unknown command %q (run: panguard help)", name))
}

// listCommands writes the commands whose name starts with prefix, one a line, their
// summaries aligned.
func listCommands(w io.Writer, prefix string) {
	width := 0
	for _, c := range commands {
		if strings.HasPrefix(c.name, prefix) {
			width = max(width, len(c.name))
		}
	}
	for _, c := range commands {
		if strings.HasPrefix(c.name, prefix) {
			fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
		}
	}
}

// usage2FA lists the 2fa subcommands.
func usage2FA(w io.Writer) {
	fmt.Fprintln(w, "Usage: panguard 2fa <setup|verify|disable|status|backup-codes> [flags]")
	fmt.Fprintln(w)
	listCommands(w, "2fa ")
}
