package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/server"
	"panguard.ai/auth/internal/store"
)

const progName = "panguard-auth"

// Exit statuses: 2 is what the flag package and most CLIs use for a wrong invocation, so
// scripts can tell it from a command that ran and failed.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// version is the release this binary was built as; `make build` sets it with
// -ldflags "-X main.version=...". Empty falls back to the module version.
var version string

// invocation is the process's environment and output, passed in rather than read from os so
// a command's output can be captured and its configuration given without touching the
// process's own.
type invocation struct {
	environ        map[string]string
	stdout, stderr io.Writer
	// flags holds the leaf's parsed flags, for a command that defines some.
	flags *flag.FlagSet
}

// command is one entry of the command tree: a group picks one of its subs by the next
// argument; a leaf takes exactly len(args) positional arguments and runs.
type command struct {
	name    string
	args    []string // positional argument names, for the synopsis
	summary string   // one line, for the list of commands
	help    string   // the paragraph of the command's own usage
	subs    []*command
	run     func(ctx context.Context, inv invocation, args []string) error
	// flags, when set, defines the leaf's flags on the FlagSet dispatch parses its
	// arguments with; run reads them from inv.flags. Such a leaf checks the number of its
	// positional arguments itself, since a flag may stand in for one (retry ID|--all).
	flags func(fs *flag.FlagSet)
}

// root is the whole command line. Later commands (keys rotate, service-key create) are new
// entries here, as groups like migrate and admin.
var root = &command{
	help: "Panguard Auth serves its API (REST, Connect, gRPC and gRPC-web on one port) when run with no\n" +
		"command. Every command reads the same PANGUARD_* environment variables (see README.md).",
	subs: []*command{
		{name: "serve", summary: "serve the API (what running with no command does)",
			help: "Serve the API on PANGUARD_ADDR until SIGINT or SIGTERM, migrating the database first.",
			run:  func(ctx context.Context, inv invocation, _ []string) error { return run(ctx, inv.environ, nil) }},
		{name: "migrate", summary: "manage the database schema", subs: []*command{
			{name: "up", summary: "apply the pending migrations", run: migrateUp,
				help: "Apply every pending migration to the database at PANGUARD_DATABASE_URL."},
			{name: "down", args: []string{"N"}, summary: "roll back the N most recently applied migrations", run: migrateDown,
				help: "Roll back exactly the N most recently applied migrations, newest first. N must be at least 1\n" +
					"and at most the number applied; otherwise nothing is rolled back."},
			{name: "status", summary: "list the migrations: applied or pending, and when", run: migrateStatus,
				help: "Print one line per migration: its name, applied or pending, and when it was applied.\n" +
					"It changes no schema (it creates the bookkeeping tables if missing)."},
		}},
		{name: "admin", summary: "grant or revoke the admin role", subs: []*command{
			{name: "grant", args: []string{"EMAIL"}, summary: "make the account with EMAIL an admin", run: setRole(auth.RoleAdmin),
				help: "Give the account with EMAIL the admin role."},
			{name: "revoke", args: []string{"EMAIL"}, summary: "make the admin with EMAIL an ordinary user", run: setRole(auth.RoleUser),
				help: "Take the admin role from the account with EMAIL. The last admin cannot be revoked."},
		}},
		{name: "keys", summary: "the token-signing keys", subs: []*command{
			{name: "rotate", summary: "publish a new signing key now; it signs from 10 minutes on", run: keysRotate,
				help: "Add a new Ed25519 signing key. It is published in /.well-known/jwks.json at once and signs\n" +
					"new tokens from 10 minutes on (twice the JWKS cache age), so verifiers have it first.\n" +
					"Tokens signed with the old key keep working until they expire. Keys also rotate by\n" +
					"themselves every PANGUARD_KEY_ROTATION (default 30 days)."},
			{name: "list", summary: "list the signing keys: signing, published, retiring", run: keysList,
				help: "Print one line per signing key: its kid, generation, when it was made, when it signs\n" +
					"from, and whether it signs and is published now."},
		}},
		{name: "encryption-key", summary: "the key that seals secrets at rest", subs: []*command{
			{name: "rotate", summary: "re-seal the secrets at rest under a new PANGUARD_ENCRYPTION_KEY", run: encryptionKeyRotate,
				help: "Re-seal every secret kept in the database (TOTP secrets, pending setups, token-signing keys,\n" +
					"the backup-code key) under the new key PANGUARD_ENCRYPTION_KEY, opening them with the old key\n" +
					"PANGUARD_ENCRYPTION_KEY_PREVIOUS. Run it while every replica runs with both; afterwards they\n" +
					"need only the new key. Values already under the new key are left, so running it again is\n" +
					"harmless. Nothing is changed if some value opens with neither key."},
		}},
		{name: "service-key", summary: "keys other services introspect tokens with", subs: []*command{
			{name: "create", args: []string{"NAME"}, summary: "make a service key and print it once", run: serviceKeyCreate,
				help: "Make a key another service presents (Authorization: Bearer psk_...) to POST\n" +
					"/api/auth/introspect. It is printed once and stored only as a hash. NAME is 1-64 of\n" +
					"a-z, 0-9, '.', '_' and '-'."},
			{name: "list", summary: "list the service keys (never the keys themselves)", run: serviceKeyList,
				help: "Print one line per service key: its name, the first characters of the key, and when it was made."},
			{name: "revoke", args: []string{"NAME"}, summary: "delete a service key", run: serviceKeyRevoke,
				help: "Delete the service key NAME. Every replica refuses it within 5 seconds."},
		}},
		{name: "outbox", summary: "emails the sender gave up on", subs: []*command{
			{name: "failed", summary: "list the messages the sender gave up on (never their content)", run: outboxFailed,
				help: "Print one line per message the outbox sender gave up on after PANGUARD_OUTBOX_MAX_ATTEMPTS:\n" +
					"its id, kind, template, recipient (partly masked), attempts, when it was queued and\n" +
					"when it failed, and the last error. Bodies and links are never printed: they hold tokens."},
			{name: "retry", args: []string{"ID|--all"}, summary: "put failed messages back in the queue", run: outboxRetry,
				flags: func(fs *flag.FlagSet) { fs.Bool("all", false, "retry every failed message") },
				help: "Put the failed message ID, or with --all every failed message, back in the queue with its\n" +
					"attempts reset; running instances send it within seconds. A message's content is kept\n" +
					"for a day after it was queued (its links expire by then); older ones cannot be retried."},
		}},
		{name: "version", summary: "print the version, VCS revision and Go version", run: printVersion,
			help: "Print the version, VCS revision and Go version this binary was built with."},
		{name: "healthcheck", summary: "exit 0 if the instance at PANGUARD_ADDR is ready", run: healthcheck,
			help: "GET /readyz of the instance at PANGUARD_ADDR on this host (an unspecified host means\n" +
				"loopback; https when PANGUARD_TLS_CERT_FILE is set) with a 2-second timeout. Exit 0 when\n" +
				"it answers 200, else print why and exit 1. For container health checks without curl."},
	},
}

// usageError is a wrong invocation: dispatch prints it with the usage and exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// dispatch runs the command args name (serve when there is none) and returns the exit status.
func dispatch(ctx context.Context, args []string, environ map[string]string, stdout, stderr io.Writer) int {
	inv := invocation{environ: environ, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		args = []string{"serve"}
	}
	cmd, path := root, []string(nil)
	for cmd.subs != nil {
		if len(args) == 0 {
			return failUsage(inv, cmd, path, "missing command")
		}
		switch args[0] {
		case "-h", "-help", "--help":
			printUsage(stdout, cmd, path)
			return exitOK
		case "help":
			return help(inv, cmd, path, args[1:])
		}
		sub := cmd.sub(args[0])
		if sub == nil {
			return failUsage(inv, cmd, path, fmt.Sprintf("unknown command %q", args[0]))
		}
		cmd, path, args = sub, slices.Concat(path, []string{sub.name}), args[1:]
	}
	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	// Usage is printed here: to stdout when asked for, to stderr after a mistake.
	fs.SetOutput(io.Discard)
	if cmd.flags != nil {
		cmd.flags(fs)
		inv.flags = fs
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, cmd, path)
			return exitOK
		}
		return failUsage(inv, cmd, path, err.Error())
	}
	if cmd.flags == nil && fs.NArg() != len(cmd.args) {
		return failUsage(inv, cmd, path, fmt.Sprintf("%s takes %d argument(s), got %d", strings.Join(path, " "), len(cmd.args), fs.NArg()))
	}
	err := cmd.run(ctx, inv, fs.Args())
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return failUsage(inv, cmd, path, ue.msg)
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", progName, err)
		return exitFail
	}
	return exitOK
}

// help prints the usage of the command named by args below cmd: `help migrate down`.
func help(inv invocation, cmd *command, path, args []string) int {
	for _, name := range args {
		sub := cmd.sub(name)
		if sub == nil {
			return failUsage(inv, cmd, path, fmt.Sprintf("unknown command %q", name))
		}
		cmd, path = sub, slices.Concat(path, []string{name})
	}
	printUsage(inv.stdout, cmd, path)
	return exitOK
}

func (c *command) sub(name string) *command {
	for _, s := range c.subs {
		if s.name == name {
			return s
		}
	}
	return nil
}

func failUsage(inv invocation, cmd *command, path []string, msg string) int {
	fmt.Fprintf(inv.stderr, "%s: %s\n\n", progName, msg)
	printUsage(inv.stderr, cmd, path)
	return exitUsage
}

// printUsage prints cmd's synopsis, its help and, for a group, every command under it.
func printUsage(w io.Writer, cmd *command, path []string) {
	synopsis := strings.Join(slices.Concat([]string{progName}, path), " ")
	switch {
	case cmd == root:
		synopsis += " [COMMAND]"
	case cmd.subs != nil:
		synopsis += " COMMAND"
	default:
		synopsis = strings.Join(slices.Concat([]string{synopsis}, cmd.args), " ")
	}
	fmt.Fprintf(w, "Usage: %s\n", synopsis)
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.help)
	}
	if cmd.flags != nil {
		fs := flag.NewFlagSet("", flag.ContinueOnError)
		cmd.flags(fs)
		fmt.Fprintf(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if cmd.subs == nil {
		return
	}
	fmt.Fprintf(w, "\nCommands:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	var list func(c *command, path []string)
	list = func(c *command, path []string) {
		for _, s := range c.subs {
			p := slices.Concat(path, []string{s.name})
			if s.subs != nil {
				list(s, p)
				continue
			}
			fmt.Fprintf(tw, "  %s\t%s\n", strings.Join(slices.Concat(p, s.args), " "), s.summary)
		}
	}
	list(cmd, path)
	if cmd == root {
		fmt.Fprintf(tw, "  help [COMMAND]\tprint this usage, or a command's\n")
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun '%s %s -h' for a command's usage.\n", progName, strings.Join(slices.Concat(path, []string{"COMMAND"}), " "))
}

// openStore opens the configured database without migrating it: the migrate commands
// decide what happens to the schema.
func openStore(ctx context.Context, environ map[string]string) (*store.Store, error) {
	cfg, err := server.LoadConfig(environ)
	if err != nil {
		return nil, err
	}
	store.SetLogger(newLogger(cfg.LogLevel))
	return store.Open(ctx, cfg.DatabaseURL)
}

func migrateUp(ctx context.Context, inv invocation, _ []string) error {
	st, err := openStore(ctx, inv.environ)
	if err != nil {
		return err
	}
	defer st.Close()
	applied, err := st.ApplyPending(ctx)
	for _, name := range applied {
		fmt.Fprintln(inv.stdout, "applied", name)
	}
	if err == nil && len(applied) == 0 {
		fmt.Fprintln(inv.stdout, "nothing to apply: every migration is applied")
	}
	return err
}

func migrateDown(ctx context.Context, inv invocation, args []string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		return usageError{fmt.Sprintf("N must be a whole number of at least 1, not %q", args[0])}
	}
	st, err := openStore(ctx, inv.environ)
	if err != nil {
		return err
	}
	defer st.Close()
	undone, err := st.RollbackN(ctx, n)
	for _, name := range undone {
		fmt.Fprintln(inv.stdout, "rolled back", name)
	}
	if err != nil && len(undone) == 0 {
		return fmt.Errorf("%w; nothing was rolled back", err)
	}
	return err
}

func migrateStatus(ctx context.Context, inv invocation, _ []string) error {
	st, err := openStore(ctx, inv.environ)
	if err != nil {
		return err
	}
	defer st.Close()
	states, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
	for _, s := range states {
		switch {
		case s.Unknown:
			fmt.Fprintf(tw, "%s\tapplied\t%s\t(not in this version: applied by a newer one)\n", s.Name, s.AppliedAt.UTC().Format(time.RFC3339))
		case s.Applied:
			fmt.Fprintf(tw, "%s\tapplied\t%s\n", s.Name, s.AppliedAt.UTC().Format(time.RFC3339))
		default:
			fmt.Fprintf(tw, "%s\tpending\t-\n", s.Name)
		}
	}
	return tw.Flush()
}

// withService runs fn with the domain service built as serving builds it (server.New: the
// schema migrated, the secrets and keys loaded), so what fn changes is checked and audited
// like any other change.
func withService(ctx context.Context, inv invocation, fn func(a *auth.Service) error) error {
	cfg, err := server.LoadConfig(inv.environ)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	store.SetLogger(log)
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	return fn(srv.Auth())
}

// domainError turns a domain error into what an operator reads: its message, never Go's
// error chain.
func domainError(err error) error {
	var ae *auth.Error
	if errors.As(err, &ae) {
		return errors.New(ae.Message)
	}
	return err
}

// setRole is admin grant (RoleAdmin) or revoke (RoleUser).
func setRole(role auth.Role) func(ctx context.Context, inv invocation, args []string) error {
	return func(ctx context.Context, inv invocation, args []string) error {
		return withService(ctx, inv, func(a *auth.Service) error {
			p, err := a.SetRole(ctx, args[0], role)
			if errors.Is(err, auth.ErrNotFound) {
				// The domain's message ("Not found") is written for API clients that named an id.
				return fmt.Errorf("no account has the email %s", args[0])
			}
			if err != nil {
				return domainError(err)
			}
			if role == auth.RoleAdmin {
				fmt.Fprintf(inv.stdout, "%s is now an admin (%s)\n", p.Email, p.ID)
			} else {
				fmt.Fprintf(inv.stdout, "%s is no longer an admin (%s)\n", p.Email, p.ID)
			}
			return nil
		})
	}
}

func printVersion(_ context.Context, inv invocation, _ []string) error {
	bi, ok := debug.ReadBuildInfo()
	_, err := io.WriteString(inv.stdout, versionText(version, bi, ok))
	return err
}

// versionText describes the build. Any part may be missing (a build with -buildvcs=false
// has no revision, `go run` no module version), so each falls back to a word saying so.
func versionText(v string, bi *debug.BuildInfo, ok bool) string {
	module, modVersion, revision, goVersion := "panguard.ai/auth", "(devel)", "unknown", runtime.Version()
	var modified, at string
	if ok && bi != nil {
		if bi.Main.Path != "" {
			module = bi.Main.Path
		}
		if bi.Main.Version != "" {
			modVersion = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (modified)"
				}
			case "vcs.time":
				at = " at " + s.Value
			}
		}
	}
	if v == "" {
		v = "devel"
		if modVersion != "(devel)" {
			v = modVersion
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", progName, v)
	fmt.Fprintf(&b, "module:   %s %s\n", module, modVersion)
	fmt.Fprintf(&b, "revision: %s%s%s\n", revision, modified, at)
	fmt.Fprintf(&b, "go:       %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}

// readyURL is the /readyz of the instance listening on addr, reached from this host: an
// unspecified host (all interfaces) is reached on loopback.
func readyURL(addr string, https bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("PANGUARD_ADDR %q: %w", addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("PANGUARD_ADDR %q: healthcheck needs a fixed port number", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz", nil
}

func healthcheck(ctx context.Context, inv invocation, _ []string) error {
	cfg, err := server.LoadConfig(inv.environ)
	if err != nil {
		return err
	}
	u, err := readyURL(cfg.Addr, cfg.TLSCertFile != "")
	if err != nil {
		return err
	}
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			// No proxy from the environment: the target is this host's own instance.
			Proxy: nil,
			// The certificate names the public host, not the loopback address dialled here, and
			// the target is this host's own instance: verifying it would fail without proving
			// anything. Nothing but this GET is sent.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
		// A redirect is not a ready instance.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s answered %s: %s", u, res.Status, bytes.TrimSpace(body))
	}
	fmt.Fprintf(inv.stdout, "ready: %s answered %s\n", u, res.Status)
	return nil
}
