package main

// Admin commands: find accounts, change plans, suspend, reset a lost second factor, end
// sessions, delete, and read the audit trail. Every one needs the session of an admin
// account; the server refuses anyone else (reason forbidden).

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"panguard.ai/auth/sdk"
)

// usageAdmin lists the admin subcommands.
func usageAdmin(w io.Writer) {
	fmt.Fprintln(w, "Usage: panguard admin <users|user|plan|suspend|unsuspend|revoke-sessions|reset-2fa|delete-user|audit> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Account administration; every command needs the session of an admin account.")
	fmt.Fprintln(w)
	listCommands(w, "admin ")
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "panguard admin <command> -h" for the flags of a command.`)
}

// adminError turns the server's refusals of admin commands into messages about accounts:
// forbidden means the session is not an admin's, not_found that there is no account id.
func adminError(err error, id string) error {
	switch {
	case errors.Is(err, sdk.ErrForbidden):
		return &cliError{reason: sdk.ErrForbidden.Reason, code: 1,
			msg: "This needs an admin account. You are logged in with an account that is not an admin (see: panguard whoami)."}
	case errors.Is(err, sdk.ErrNotFound) && id != "":
		return &cliError{reason: sdk.ErrNotFound.Reason, code: 1,
			msg: fmt.Sprintf("No account %s. Find accounts with: panguard admin users", id)}
	}
	return err
}

// adminSession is a.session() for the admin commands.
func (a *app) adminSession() (*sdk.AdminClient, error) {
	c, _, err := a.session()
	if err != nil {
		return nil, err
	}
	return c.Admin(), nil
}

// limitFlag binds --limit, the page size of a listing.
func limitFlag(fs *flag.FlagSet, what string) *int {
	return fs.Int("limit", 0, what+" per page, 1-100 (default 50)")
}

// checkLimit fails with a usage error when --limit was given outside 1-100, and reports
// whether it was given.
func checkLimit(fs *flag.FlagSet, limit int) (bool, error) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "limit" })
	if set && (limit < 1 || limit > 100) {
		return set, usageErrorf("--limit must be between 1 and 100, got %d", limit)
	}
	return set, nil
}

// shellSafeRE matches the words a shell passes through unchanged.
var shellSafeRE = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote is s as one shell word, for the commands the CLI prints.
func shellQuote(s string) string {
	if shellSafeRE.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// parseUntil reads --until: a date (YYYY-MM-DD, meaning 00:00 UTC that day) or an RFC 3339
// time.
func parseUntil(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageErrorf("--until %q is not a date (YYYY-MM-DD) nor an RFC 3339 time (2006-01-02T15:04:05Z) (run: panguard admin plan -h)", s)
}

// adminUserJSON is the JSON form of an account as an admin sees it; sessionCount only when
// the server counted the sessions (admin user, not admin users).
func adminUserJSON(u sdk.AdminUser) map[string]any {
	v := userJSON(u.User)
	v["role"] = u.Role
	if u.MachineLimit != nil {
		v["machineLimit"] = *u.MachineLimit
	} else {
		v["machineLimit"] = nil
	}
	if !u.UpdatedAt.IsZero() {
		v["updatedAt"] = u.UpdatedAt.UTC().Format(time.RFC3339)
	}
	v["suspended"] = u.Suspended
	v["suspendedAt"] = timeJSON(u.SuspendedAt)
	v["suspendedReason"] = nil
	if u.Suspended {
		v["suspendedReason"] = u.SuspendedReason
	}
	v["lastLoginAt"] = timeJSON(u.LastLoginAt)
	if u.SessionCount >= 0 {
		v["sessionCount"] = u.SessionCount
	}
	return v
}

// userFlags is the FLAGS cell of an account: suspended, 2fa, or "-".
func userFlags(u sdk.AdminUser) string {
	var f []string
	if u.Suspended {
		f = append(f, "suspended")
	}
	if u.TOTPEnabled {
		f = append(f, "2fa")
	}
	if len(f) == 0 {
		return "-"
	}
	return strings.Join(f, ",")
}

// lastLogin formats when an account last signed in.
func lastLogin(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return ago(*t)
}

// cmdAdminUsers is "panguard admin users".
func (a *app) cmdAdminUsers(args []string) error {
	fs := a.flagSet("admin users", "[QUERY] [--tier TIER] [--limit N] [--cursor CURSOR]",
		"Lists accounts, newest first. QUERY keeps those whose email or name contains it (any case,\ntaken literally: % and _ are not wildcards); --tier those on an effective tier (community,\nsolo, pro, business, enterprise). When there is more, it prints the command for the next page.")
	tier := fs.String("tier", "", "only accounts on this effective tier")
	limit := limitFlag(fs, "accounts")
	cursor := fs.String("cursor", "", "cursor of the next page, as printed by the previous one")
	pos, err := a.parseWithArgs(fs, args, 0, 1, "query")
	if err != nil {
		return err
	}
	limitSet, err := checkLimit(fs, *limit)
	if err != nil {
		return err
	}
	q := sdk.UserQuery{Tier: strings.TrimSpace(*tier), Limit: *limit, Cursor: strings.TrimSpace(*cursor)}
	if len(pos) > 0 {
		q.Query = pos[0]
	}
	ac, err := a.adminSession()
	if err != nil {
		return err
	}
	page, err := ac.ListUsers(a.ctx, q)
	if errors.Is(err, sdk.ErrInvalidCursor) {
		return &cliError{reason: sdk.ErrInvalidCursor.Reason, code: 1,
			msg: "The --cursor is not one the server issued. Start again with: panguard admin users"}
	}
	if err != nil {
		return adminError(err, "")
	}
	js := make([]map[string]any, 0, len(page.Users))
	for _, u := range page.Users {
		js = append(js, adminUserJSON(u))
	}
	var next any
	if page.NextCursor != "" {
		next = page.NextCursor
	}
	return a.result(map[string]any{"users": js, "nextCursor": next}, func(w io.Writer) {
		if len(page.Users) == 0 {
			fmt.Fprintln(w, "No accounts match.")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tTIER\tROLE\tFLAGS\tLAST LOGIN")
		for _, u := range page.Users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, clip(u.Email, 40), clip(u.Name, 30), u.Tier, u.Role, userFlags(u), lastLogin(u.LastLoginAt))
		}
		tw.Flush()
		fmt.Fprintf(w, "%d account(s).\n", len(page.Users))
		if page.NextCursor != "" {
			more := []string{"panguard admin users"}
			if q.Query != "" {
				more = append(more, shellQuote(q.Query))
			}
			if q.Tier != "" {
				more = append(more, "--tier", shellQuote(q.Tier))
			}
			if limitSet {
				more = append(more, "--limit", fmt.Sprint(*limit))
			}
			more = append(more, "--cursor", page.NextCursor)
			fmt.Fprintf(w, "More: %s\n", strings.Join(more, " "))
		}
	})
}

// writeAdminUser prints one account in detail.
func writeAdminUser(w io.Writer, u sdk.AdminUser) {
	yesNo := map[bool]string{true: "yes", false: "no"}
	limit := "unlimited"
	if u.MachineLimit != nil {
		limit = fmt.Sprint(*u.MachineLimit)
	}
	twoFA := "off"
	if u.TOTPEnabled {
		twoFA = "on"
	}
	fmt.Fprintf(w, "ID:             %s\n", u.ID)
	fmt.Fprintf(w, "Email:          %s\n", u.Email)
	fmt.Fprintf(w, "Email verified: %s\n", yesNo[u.EmailVerified])
	fmt.Fprintf(w, "Name:           %s\n", u.Name)
	fmt.Fprintf(w, "Role:           %s\n", u.Role)
	fmt.Fprintf(w, "Tier:           %s\n", u.Tier)
	fmt.Fprintf(w, "Machine limit:  %s\n", limit)
	if u.PlanExpiresAt != nil {
		fmt.Fprintf(w, "Plan ends:      %s\n", when(*u.PlanExpiresAt))
	} else {
		fmt.Fprintln(w, "Plan ends:      never")
	}
	if u.TrialEndsAt != nil {
		fmt.Fprintf(w, "Trial ends:     %s\n", when(*u.TrialEndsAt))
	} else {
		fmt.Fprintln(w, "Trial ends:     no trial")
	}
	fmt.Fprintf(w, "2FA:            %s\n", twoFA)
	if u.SessionCount >= 0 {
		fmt.Fprintf(w, "Sessions:       %d\n", u.SessionCount)
	}
	fmt.Fprintf(w, "Last login:     %s\n", lastLogin(u.LastLoginAt))
	if !u.CreatedAt.IsZero() {
		fmt.Fprintf(w, "Created:        %s\n", u.CreatedAt.Local().Format("2006-01-02 15:04 MST"))
	}
	if u.Suspended {
		since := ""
		if u.SuspendedAt != nil {
			since = " since " + u.SuspendedAt.Local().Format("2006-01-02 15:04 MST")
		}
		fmt.Fprintf(w, "Suspended:      yes%s\n", since)
		fmt.Fprintf(w, "Reason:         %s\n", u.SuspendedReason)
	} else {
		fmt.Fprintln(w, "Suspended:      no")
	}
}

// cmdAdminUser is "panguard admin user".
func (a *app) cmdAdminUser(args []string) error {
	fs := a.flagSet("admin user", "ID", "Shows one account in detail, with its number of live sessions.")
	pos, err := a.parseWithArgs(fs, args, 1, 1, "account id")
	if err != nil {
		return err
	}
	id := strings.TrimSpace(pos[0])
	ac, err := a.adminSession()
	if err != nil {
		return err
	}
	u, err := ac.GetUser(a.ctx, id)
	if err != nil {
		return adminError(err, id)
	}
	return a.result(map[string]any{"user": adminUserJSON(*u)}, func(w io.Writer) { writeAdminUser(w, *u) })
}

// cmdAdminPlan is "panguard admin plan".
func (a *app) cmdAdminPlan(args []string) error {
	fs := a.flagSet("admin plan", "ID TIER [--until DATE]",
		"Puts the account on TIER (community, solo, pro, business or enterprise) until DATE, or with\nno end. DATE is YYYY-MM-DD, meaning 00:00 UTC at the start of that day (so the plan ends as\nthat day begins), or an RFC 3339 time such as 2027-01-31T23:59:59Z; it must be in the\nfuture. A paid tier ends any trial; community without --until removes the plan.")
	until := fs.String("until", "", "end of the plan: YYYY-MM-DD (00:00 UTC that day) or an RFC 3339 time")
	pos, err := a.parseWithArgs(fs, args, 2, 2, "account id and tier")
	if err != nil {
		return err
	}
	id, tier := strings.TrimSpace(pos[0]), strings.TrimSpace(pos[1])
	var end *time.Time
	if *until != "" {
		t, err := parseUntil(*until)
		if err != nil {
			return err
		}
		end = &t
	}
	ac, err := a.adminSession()
	if err != nil {
		return err
	}
	u, err := ac.SetPlan(a.ctx, id, tier, end)
	if err != nil {
		return adminError(err, id)
	}
	return a.result(map[string]any{"user": adminUserJSON(*u)}, func(w io.Writer) {
		if u.PlanExpiresAt != nil {
			fmt.Fprintf(w, "%s is now on the %s tier until %s.\n", u.Email, u.Tier, when(*u.PlanExpiresAt))
			return
		}
		fmt.Fprintf(w, "%s is now on the %s tier, with no end date.\n", u.Email, u.Tier)
	})
}

// reasonArg returns --reason trimmed, or a usage error when it is missing.
func reasonArg(fs *flag.FlagSet, reason string) (string, error) {
	r := strings.TrimSpace(reason)
	if r == "" {
		return "", usageErrorf("missing --reason TEXT (run: %s -h)", fs.Name())
	}
	return r, nil
}

// cmdAdminSuspend is "panguard admin suspend".
func (a *app) cmdAdminSuspend(args []string) error {
	fs := a.flagSet("admin suspend", "ID --reason TEXT",
		"Suspends the account: every session ends at once and signing in is refused until\npanguard admin unsuspend ID. The reason (1-500 characters) is kept and shown to admins.\nSuspending a suspended account updates the reason.")
	reason := fs.String("reason", "", "why the account is suspended (required)")
	pos, err := a.parseWithArgs(fs, args, 1, 1, "account id")
	if err != nil {
		return err
	}
	r, err := reasonArg(fs, *reason)
	if err != nil {
		return err
	}
	id := strings.TrimSpace(pos[0])
	ac, err := a.adminSession()
	if err != nil {
		return err
	}
	u, err := ac.SuspendUser(a.ctx, id, r)
	if err != nil {
		return adminError(err, id)
	}
	return a.result(map[string]any{"user": adminUserJSON(*u)}, func(w io.Writer) {
		fmt.Fprintf(w, "Suspended %s: every session ended and signing in is refused.\n", u.Email)
		fmt.Fprintf(w, "Reason: %s\n", u.SuspendedReason)
		fmt.Fprintf(w, "Lift it with: panguard admin unsuspend %s\n", u.ID)
	})
}

// cmdAdminUnsuspend is "panguard admin unsuspend".
func (a *app) cmdAdminUnsuspend(args []string) error {
	fs := a.flagSet("admin unsuspend", "ID",
		"Lifts a suspension: the account can sign in again (its old sessions stay ended).")
	pos, err := a.parseWithArgs(fs, args, 1, 1, "account id")
	if err != nil {
		return err
	}
	id := strings.TrimSpace(pos[0])
	ac, err := a.adminSession()
	if err != nil {
		return err
	}
	u, err := ac.UnsuspendUser(a.ctx, id)
	if err != nil {
		return adminError(err, id)
	}
	return a.result(map[string]any{"user": adminUserJSON(*u)}, func(w io.Writer) {
		fmt.Fprintf(w, "%s is not suspended: it can sign in again.\n", u.Email)
	})
}

// cmdAdminRevokeSessions is "panguard admin revoke-sessions".
func (a *app) cmdAdminRevokeSessions(args []string) error {
	fs := a.flagSet("admin revoke-sessions", "ID",
		"Ends every session of the account at once (for your own account, every one but this).\nThe account can still sign in.")
	pos, err := a.parseWithArgs(fs, args, 1, 1, "account id")
	if err != nil {
		return err
	}
	id := strings.TrimSpace(pos[0])
	ac, err := a.adminSession()
	if err != nil {
		return err
	}
	n, err := ac.RevokeUserSessions(a.ctx, id)
	if err != nil {
		return adminError(err, id)
	}
	return a.result(map[string]any{"id": id, "revoked": n}, func(w io.Writer) {
		fmt.Fprintf(w, "Revoked %d session(s) of %s.\n", n, id)
	})
}

// cmdAdminReset2FA is "panguard admin reset-2fa".
func (a *app) cmdAdminReset2FA(args []string) error {
	fs := a.flagSet("admin reset-2fa", "ID --reason TEXT",
		"Removes the account's two-factor authentication and backup codes, for an owner who lost\ntheir device; they are told by email and sign in with the password alone until they set\nit up again. The reason (1-500 characters) goes to the audit trail.")
	reason := fs.String("reason", "", "why the second factor is removed, e.g. the support ticket (required)")
	pos, err := a.parseWithArgs(fs, args, 1, 1, "account id")
	if err != nil {
		return err
	}
	r, err := reasonArg(fs, *reason)
	if err != nil {
		return err
	}
	id := strings.TrimSpace(pos[0])
	ac, err := a.adminSession()
	if err != nil {
		return err
	}
	u, err := ac.ResetUserTotp(a.ctx, id, r)
	if errors.Is(err, sdk.ErrTOTPNotEnabled) {
		return &cliError{reason: sdk.ErrTOTPNotEnabled.Reason, code: 1,
			msg: fmt.Sprintf("Account %s has no two-factor authentication to reset; nothing was changed.", id)}
	}
	if err != nil {
		return adminError(err, id)
	}
	return a.result(map[string]any{"user": adminUserJSON(*u)}, func(w io.Writer) {
		fmt.Fprintf(w, "Two-factor authentication removed from %s; the owner was told by email.\n", u.Email)
		fmt.Fprintln(w, "They sign in with the password alone until they run: panguard 2fa setup")
	})
}

// cmdAdminDeleteUser is "panguard admin delete-user".
func (a *app) cmdAdminDeleteUser(args []string) error {
	fs := a.flagSet("admin delete-user", "ID [--yes]",
		"Deletes the account and everything kept about it, for good, as its owner deleting it would.\nYou confirm by typing the account's email address, unless --yes.")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	pos, err := a.parseWithArgs(fs, args, 1, 1, "account id")
	if err != nil {
		return err
	}
	id := strings.TrimSpace(pos[0])
	ac, err := a.adminSession()
	if err != nil {
		return err
	}
	u, err := ac.GetUser(a.ctx, id)
	if err != nil {
		return adminError(err, id)
	}
	if !*yes {
		fmt.Fprintf(a.stderr, "This permanently deletes the account %s (%s) and all its data (sessions, 2FA, activity).\n", u.Email, u.ID)
		fmt.Fprintln(a.stderr, "It cannot be undone.")
		typed, err := a.prompt.line("Type the account's email address to confirm:")
		if err != nil {
			return err
		}
		if typed != u.Email {
			return &cliError{reason: "not_confirmed", code: 1,
				msg: "The email address typed does not match the account's; nothing was deleted."}
		}
	}
	if err := ac.DeleteUser(a.ctx, id); err != nil {
		return adminError(err, id)
	}
	return a.result(map[string]any{"deleted": true, "id": u.ID, "email": u.Email}, func(w io.Writer) {
		fmt.Fprintf(w, "Account %s (%s) deleted.\n", u.Email, u.ID)
	})
}

// auditEventJSON is the JSON form of an audit event: an activity event with its account.
func auditEventJSON(e sdk.Event) map[string]any {
	v := eventJSON(e)
	v["userId"] = e.UserID
	return v
}

// cmdAdminAudit is "panguard admin audit".
func (a *app) cmdAdminAudit(args []string) error {
	fs := a.flagSet("admin audit", "[--user ID] [--type TYPE] [--limit N] [--cursor CURSOR]",
		"Shows the security events of every account (or of one with --user; of one type with\n--type, e.g. suspended), newest first. Admin actions show BY admin:<id of the admin>.\nWhen there is more, it prints the command for the next page.")
	user := fs.String("user", "", "only the events of this account id")
	typ := fs.String("type", "", "only events of this type (login, plan_changed, suspended…)")
	limit := limitFlag(fs, "events")
	cursor := fs.String("cursor", "", "cursor of the next page, as printed by the previous one")
	if err := a.parse(fs, args); err != nil {
		return err
	}
	limitSet, err := checkLimit(fs, *limit)
	if err != nil {
		return err
	}
	q := sdk.AuditQuery{UserID: strings.TrimSpace(*user), Type: strings.TrimSpace(*typ), Limit: *limit, Cursor: strings.TrimSpace(*cursor)}
	ac, err := a.adminSession()
	if err != nil {
		return err
	}
	page, err := ac.ListAudit(a.ctx, q)
	if errors.Is(err, sdk.ErrInvalidCursor) {
		return &cliError{reason: sdk.ErrInvalidCursor.Reason, code: 1,
			msg: "The --cursor is not one the server issued. Start again with: panguard admin audit"}
	}
	if err != nil {
		return adminError(err, "")
	}
	js := make([]map[string]any, 0, len(page.Events))
	for _, e := range page.Events {
		js = append(js, auditEventJSON(e))
	}
	var next any
	if page.NextCursor != "" {
		next = page.NextCursor
	}
	return a.result(map[string]any{"events": js, "nextCursor": next}, func(w io.Writer) {
		if len(page.Events) == 0 {
			fmt.Fprintln(w, "No events.")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "WHEN\tUSER\tEVENT\tBY\tDETAIL")
		for _, e := range page.Events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05"), clip(e.UserID, 40), e.Type, clip(e.Actor, 40), clip(detailText(e.Detail), 60))
		}
		tw.Flush()
		if page.NextCursor != "" {
			more := []string{"panguard admin audit"}
			if q.UserID != "" {
				more = append(more, "--user", shellQuote(q.UserID))
			}
			if q.Type != "" {
				more = append(more, "--type", shellQuote(q.Type))
			}
			if limitSet {
				more = append(more, "--limit", fmt.Sprint(*limit))
			}
			more = append(more, "--cursor", page.NextCursor)
			fmt.Fprintf(w, "More: %s\n", strings.Join(more, " "))
		}
	})
}
