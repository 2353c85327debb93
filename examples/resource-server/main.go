// Command resource-server is a minimal service protected by Panguard Auth session tokens,
// checked with panguard.ai/auth/sdk/verify: the signature offline against the auth service's
// published keys and, when a service key is given, the session online (introspection).
//
//	GET /whoami   the caller, as JSON (needs "Authorization: Bearer <token>")
//	GET /healthz  unprotected liveness check
//
// Usage:
//
//	resource-server [-issuer URL] [-service-key psk_…] [-addr :4000]
//
// The flags default to PANGUARD_ISSUER, PANGUARD_SERVICE_KEY and ADDR. See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"panguard.ai/auth/sdk/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "resource-server:", err)
		os.Exit(1)
	}
}

// config is what the command line and environment say.
type config struct {
	issuer     string // the auth service's public URL
	serviceKey string // optional: enables introspection
	addr       string
}

// parseConfig reads the flags, each defaulting to its environment variable.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("resource-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.issuer, "issuer", getenv("PANGUARD_ISSUER"), "the auth service's public URL, e.g. http://localhost:3000 (env PANGUARD_ISSUER)")
	fs.StringVar(&c.serviceKey, "service-key", getenv("PANGUARD_SERVICE_KEY"), "a service key (psk_…) to also check sessions online (env PANGUARD_SERVICE_KEY)")
	addr := getenv("ADDR")
	if addr == "" {
		addr = ":4000"
	}
	fs.StringVar(&c.addr, "addr", addr, "listen address (env ADDR)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.issuer == "" {
		return config{}, errors.New("the auth service URL is required: -issuer or PANGUARD_ISSUER")
	}
	return c, nil
}

// newVerifier checks tokens of c.issuer, online too when there is a service key.
func newVerifier(c config) (*verify.Verifier, error) {
	vc := verify.Config{Issuer: c.issuer}
	if c.serviceKey != "" {
		vc.Introspection = &verify.IntrospectionConfig{ServiceKey: c.serviceKey}
	}
	return verify.New(vc)
}

// newHandler is the whole service.
func newHandler(v *verify.Verifier) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"ok": true})
	})
	mux.Handle("GET /whoami", v.Middleware(http.HandlerFunc(whoami)))
	return mux
}

// whoami answers the caller the middleware verified.
func whoami(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.CallerFrom(r.Context())
	data := map[string]any{
		"userId":       c.UserID,
		"sessionId":    c.SessionID,
		"expiresAt":    c.ExpiresAt.UTC().Format(time.RFC3339),
		"introspected": c.Introspected,
	}
	if c.Introspected { // only the auth service knows these
		data["email"], data["tier"], data["machineLimit"] = c.Email, c.Tier, c.MachineLimit // null: unlimited
	}
	writeJSON(w, map[string]any{"ok": true, "data": data})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	v, err := newVerifier(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newHandler(v), ReadHeaderTimeout: 10 * time.Second}
	mode := "offline (signature only)"
	if cfg.serviceKey != "" {
		mode = "offline + introspection"
	}
	fmt.Fprintf(stderr, "resource-server: listening on %s, verifying tokens of %s, %s\n", ln.Addr(), cfg.issuer, mode)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
