package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnknownVariablesAreNamedWithTheClosestKnownOne(t *testing.T) {
	t.Parallel()
	got := UnknownVariables(map[string]string{
		"PANGUARD_DATABSE_URL":     "postgres://x",
		"PANGUARD_RATELIMIT":       "5",
		"PANGUARD_DATABASE_URL":    "sqlite://x", // known
		"PANGUARD_API_URL":         "http://x",   // the CLI's
		"PANGUARD_JWT_SECRET_FILE": "/run/secrets/jwt",
		"HOME":                     "/root", // not ours
	})
	want := []string{
		"PANGUARD_DATABSE_URL is not a setting of this service and is ignored; did you mean PANGUARD_DATABASE_URL?",
		"PANGUARD_RATELIMIT is not a setting of this service and is ignored; did you mean PANGUARD_RATE_LIMIT?",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSecretsMayComeFromFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := strings.Repeat("s", 40)
	jwt := write("jwt", secret+"\n")
	key := write("key", strings.Repeat("ab", 32)+"\r\n")
	previous := write("previous", strings.Repeat("cd", 32)+"\n")
	cfg, err := LoadConfig(map[string]string{"PANGUARD_JWT_SECRET_FILE": jwt, "PANGUARD_ENCRYPTION_KEY_FILE": key, "PANGUARD_ENCRYPTION_KEY_PREVIOUS_FILE": previous})
	if err != nil || cfg.JWTSecret != secret || cfg.EncryptionKey != strings.Repeat("ab", 32) || cfg.EncryptionKeyPrevious != strings.Repeat("cd", 32) {
		t.Fatalf("config %q %q %q %v", cfg.JWTSecret, cfg.EncryptionKey, cfg.EncryptionKeyPrevious, err)
	}
	big := write("big", strings.Repeat("x", 70<<10))
	empty := write("empty", "\n")
	for _, c := range []struct {
		name    string
		environ map[string]string
		want    string
	}{
		{"both the variable and its file", map[string]string{"PANGUARD_JWT_SECRET": secret, "PANGUARD_JWT_SECRET_FILE": jwt}, "set PANGUARD_JWT_SECRET or PANGUARD_JWT_SECRET_FILE, not both"},
		{"a missing file", map[string]string{"PANGUARD_SMTP_URL_FILE": filepath.Join(dir, "nope")}, "PANGUARD_SMTP_URL_FILE"},
		{"a file too large to be a secret", map[string]string{"PANGUARD_ENCRYPTION_KEY_FILE": big}, "larger than 64 KiB"},
		{"an empty file", map[string]string{"PANGUARD_JWT_SECRET_FILE": empty}, "is empty"},
	} {
		if _, err := LoadConfig(c.environ); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
