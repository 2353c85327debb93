package server

import (
	"bytes"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/caarlos0/env/v11"

	"panguard.ai/auth/internal/auth"
)

// Config is the service configuration, read from PANGUARD_* environment variables.
type Config struct {
	Addr        string `env:"PANGUARD_ADDR" envDefault:":3000"`
	DatabaseURL string `env:"PANGUARD_DATABASE_URL"`
	JWTSecret   string `env:"PANGUARD_JWT_SECRET"`
	// EncryptionKey is 32 bytes as hex or base64.
	EncryptionKey string `env:"PANGUARD_ENCRYPTION_KEY"`
	// EncryptionKeyPrevious, during a rotation, is the old EncryptionKey: what the current key
	// cannot open is opened with it (see `panguard-auth encryption-key rotate`).
	EncryptionKeyPrevious string        `env:"PANGUARD_ENCRYPTION_KEY_PREVIOUS"`
	TOTPIssuer            string        `env:"PANGUARD_TOTP_ISSUER" envDefault:"Panguard"`
	TokenTTL              time.Duration `env:"PANGUARD_TOKEN_TTL" envDefault:"24h"`
	// KeyRotation is how long a token-signing key signs before the next one takes over.
	KeyRotation time.Duration `env:"PANGUARD_KEY_ROTATION" envDefault:"720h"`
	LogLevel    string        `env:"PANGUARD_LOG_LEVEL" envDefault:"info"`

	SMTPURL   string `env:"PANGUARD_SMTP_URL"`
	MailFrom  string `env:"PANGUARD_MAIL_FROM" envDefault:"Panguard <no-reply@localhost>"`
	PublicURL string `env:"PANGUARD_PUBLIC_URL" envDefault:"http://localhost:3000"`
	// TemplatesDir is a directory of email template overrides (NAME.txt, NAME.html,
	// subjects.json; see mail.Load), or "" for the embedded templates only.
	TemplatesDir string `env:"PANGUARD_TEMPLATES_DIR"`
	// ProductName names the service in email subjects and bodies ({{.Product}}).
	ProductName string `env:"PANGUARD_PRODUCT_NAME" envDefault:"Panguard"`
	// SupportEmail is an address users can write to, shown in emails ({{.Support}}) when set.
	SupportEmail string `env:"PANGUARD_SUPPORT_EMAIL"`
	// OutboxLease is how long a sender reserves an email; a crashed sender's emails go out
	// after it.
	OutboxLease time.Duration `env:"PANGUARD_OUTBOX_LEASE" envDefault:"1m"`
	// OutboxMaxAttempts is how many times an outbox entry is tried before it is marked
	// failed (at least 1).
	OutboxMaxAttempts int `env:"PANGUARD_OUTBOX_MAX_ATTEMPTS" envDefault:"8"`

	// RateLimit is the per-IP budget of credential operations per minute (0: off).
	RateLimit int `env:"PANGUARD_RATE_LIMIT" envDefault:"20"`
	// AccountWriteLimit is each account's budget of authenticated writes per minute (0: off).
	AccountWriteLimit int `env:"PANGUARD_ACCOUNT_WRITE_LIMIT" envDefault:"60"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `env:"PANGUARD_TRUSTED_PROXIES" envSeparator:","`

	// CORSOrigins are the browser origins allowed to call the Connect/gRPC-web API.
	CORSOrigins []string `env:"PANGUARD_CORS_ORIGINS" envSeparator:","`
	// DeviceClients are the public OAuth clients that may sign in through the device grant.
	DeviceClients []string `env:"PANGUARD_DEVICE_CLIENTS" envSeparator:"," envDefault:"panguard-cli"`

	HashMemoryKiB   uint32 `env:"PANGUARD_HASH_MEMORY_KIB" envDefault:"19456"`
	HashIterations  uint32 `env:"PANGUARD_HASH_ITERATIONS" envDefault:"2"`
	HashParallelism uint8  `env:"PANGUARD_HASH_PARALLELISM" envDefault:"1"`
	// HashConcurrency bounds the password hashes running at once (0: one per CPU);
	// HashQueueTimeout is how long a request waits for a slot before a fast 503.
	HashConcurrency  int           `env:"PANGUARD_HASH_CONCURRENCY" envDefault:"0"`
	HashQueueTimeout time.Duration `env:"PANGUARD_HASH_QUEUE_TIMEOUT" envDefault:"2s"`
	// HashWorkers is where the service binary hashes passwords: "normal" (worker processes
	// at the service's priority), "low" (niceness 19), "idle" (SCHED_IDLE), or "off" (inside
	// the service's own process).
	HashWorkers string `env:"PANGUARD_HASH_WORKERS" envDefault:"normal"`
	// Derive, when set, computes password hashes (the service binary's hash workers); nil
	// hashes in this process.
	Derive auth.Deriver `env:"-"`

	// TLSCertFile and TLSKeyFile make the service terminate TLS itself (and send HSTS).
	TLSCertFile string `env:"PANGUARD_TLS_CERT_FILE"`
	TLSKeyFile  string `env:"PANGUARD_TLS_KEY_FILE"`

	ShutdownTimeout time.Duration `env:"PANGUARD_SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// MetricsAddr, when set, serves /metrics on this separate address (an admin network)
	// instead of the public port.
	MetricsAddr string `env:"PANGUARD_METRICS_ADDR"`
	// RequestTimeout bounds each request, database waits included.
	RequestTimeout time.Duration `env:"PANGUARD_REQUEST_TIMEOUT" envDefault:"10s"`

	// Now is the domain's clock (default time.Now). Not an environment variable: tests set it
	// to move through trials, plans and key rotations without sleeping.
	Now func() time.Time `env:"-"`
}

// hsts reports whether responses should carry Strict-Transport-Security: when this process
// terminates TLS, or when its public URL is https (TLS terminated by a proxy).
func (c Config) hsts() bool {
	return c.TLSCertFile != "" || strings.HasPrefix(c.PublicURL, "https://")
}

// LoadConfig reads the configuration from environ (os.Environ's form) and checks it; each
// secret may come from a file named by its variable with _FILE appended. It returns an error
// naming the variable that is malformed, out of range, or whose file cannot be read.
func LoadConfig(environ map[string]string) (Config, error) {
	var c Config
	environ, err := withSecretFiles(environ)
	if err != nil {
		return c, err
	}
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	switch {
	case c.KeyRotation != 0 && c.KeyRotation < 2*auth.KeyLeadTime:
		return c, fmt.Errorf("config: PANGUARD_KEY_ROTATION must be at least %s", 2*auth.KeyLeadTime)
	case c.TokenTTL < time.Minute:
		return c, fmt.Errorf("config: PANGUARD_TOKEN_TTL must be at least 1m")
	case c.HashMemoryKiB < 19456 || c.HashIterations < 2 || c.HashParallelism < 1:
		return c, fmt.Errorf("config: argon2id parameters below the minimum m=19456 KiB, t=2, p=1")
	case c.JWTSecret != "" && len(c.JWTSecret) < 32:
		return c, fmt.Errorf("config: PANGUARD_JWT_SECRET must be at least 32 bytes")
	case c.TOTPIssuer == "" || strings.ContainsAny(c.TOTPIssuer, ":"):
		return c, fmt.Errorf("config: PANGUARD_TOTP_ISSUER must be non-empty and without ':'")
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("config: PANGUARD_PUBLIC_URL must be an http(s) URL")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return c, fmt.Errorf("config: set both PANGUARD_TLS_CERT_FILE and PANGUARD_TLS_KEY_FILE, or neither")
	}
	if strings.TrimSpace(c.ProductName) == "" || strings.ContainsFunc(c.ProductName, unicode.IsControl) {
		return c, fmt.Errorf("config: PANGUARD_PRODUCT_NAME must be non-empty, without control characters")
	}
	if c.SupportEmail != "" {
		if a, err := netmail.ParseAddress(c.SupportEmail); err != nil || a.Name != "" || a.Address != c.SupportEmail {
			return c, fmt.Errorf("config: PANGUARD_SUPPORT_EMAIL must be a bare email address (support@example.com)")
		}
	}
	if c.OutboxLease < time.Second {
		return c, fmt.Errorf("config: PANGUARD_OUTBOX_LEASE must be at least 1s")
	}
	if c.OutboxMaxAttempts < 1 {
		return c, fmt.Errorf("config: PANGUARD_OUTBOX_MAX_ATTEMPTS must be at least 1")
	}
	if c.RequestTimeout <= 0 {
		return c, fmt.Errorf("config: PANGUARD_REQUEST_TIMEOUT must be positive")
	}
	if c.HashQueueTimeout >= c.RequestTimeout {
		return c, fmt.Errorf("config: PANGUARD_HASH_QUEUE_TIMEOUT must be shorter than PANGUARD_REQUEST_TIMEOUT")
	}
	if c.HashConcurrency < 0 || c.HashQueueTimeout <= 0 {
		return c, fmt.Errorf("config: PANGUARD_HASH_CONCURRENCY must be >= 0 and PANGUARD_HASH_QUEUE_TIMEOUT > 0")
	}
	if c.HashWorkers != "idle" && c.HashWorkers != "low" && c.HashWorkers != "normal" && c.HashWorkers != "off" {
		return c, fmt.Errorf("config: PANGUARD_HASH_WORKERS must be idle, low, normal or off")
	}
	if c.AccountWriteLimit < 0 {
		return c, fmt.Errorf("config: PANGUARD_ACCOUNT_WRITE_LIMIT must be 0 (off) or more")
	}
	if c.RateLimit < 0 {
		return c, fmt.Errorf("config: PANGUARD_RATE_LIMIT must be 0 (off) or more")
	}
	for _, id := range c.DeviceClients {
		if id == "" || len(id) > 100 || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return c, fmt.Errorf("config: PANGUARD_DEVICE_CLIENTS: %q is not a client id (printable ASCII, no spaces, at most 100 characters)", id)
		}
	}
	if _, err := newClientIPs(c.TrustedProxies); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	var current []byte
	if c.EncryptionKey != "" {
		if current, err = auth.ParseKey(c.EncryptionKey); err != nil {
			return c, fmt.Errorf("config: PANGUARD_ENCRYPTION_KEY: %w", err)
		}
	}
	if c.EncryptionKeyPrevious != "" {
		previous, err := auth.ParseKey(c.EncryptionKeyPrevious)
		switch {
		case err != nil:
			return c, fmt.Errorf("config: PANGUARD_ENCRYPTION_KEY_PREVIOUS: %w", err)
		case current == nil:
			// The current key would otherwise be the generated one in the database: a rotation
			// goes to a key the operator holds.
			return c, fmt.Errorf("config: PANGUARD_ENCRYPTION_KEY_PREVIOUS is set without PANGUARD_ENCRYPTION_KEY: set the new key as PANGUARD_ENCRYPTION_KEY")
		case bytes.Equal(previous, current):
			return c, fmt.Errorf("config: PANGUARD_ENCRYPTION_KEY_PREVIOUS is the same key as PANGUARD_ENCRYPTION_KEY")
		}
	}
	return c, nil
}
