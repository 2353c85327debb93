package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk"
)

func TestEncryptionKeyRotateReSealsEverySecretOfTheRealBinary(t *testing.T) {
	t.Parallel()
	oldKey, newKey, wrongKey := strings.Repeat("11", 32), strings.Repeat("22", 32), strings.Repeat("33", 32)
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		db := "PANGUARD_DATABASE_URL=" + dbURL
		withKeys := func(key, previous string) []string {
			env := []string{db, "PANGUARD_ENCRYPTION_KEY=" + key}
			if previous != "" {
				env = append(env, "PANGUARD_ENCRYPTION_KEY_PREVIOUS="+previous)
			}
			return env
		}

		// Before: under the old key, an account with 2FA and one with a setup not yet confirmed.
		before := startProcess(t, withKeys(oldKey, "")...)
		reg, err := client(t, before.base).Register(ctx, "alice@example.com", "Alice", "password1")
		if err != nil {
			t.Fatal(err)
		}
		alice := client(t, before.base).WithToken(reg.Session.Token)
		setup, err := alice.SetupTotp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := oathtest.TOTP(setup.Secret, time.Now(), 0)
		if err := alice.VerifyTotp(ctx, c); err != nil {
			t.Fatal(err)
		}
		reg, err = client(t, before.base).Register(ctx, "carol@example.com", "Carol", "password1")
		if err != nil {
			t.Fatal(err)
		}
		carolToken := reg.Session.Token
		pending, err := client(t, before.base).WithToken(carolToken).SetupTotp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before.cmd.Process.Kill()
		before.cmd.Wait()

		// During: a replica runs with both keys; the rotation runs beside it.
		during := startProcess(t, withKeys(newKey, oldKey)...)
		if _, err := client(t, during.base).Login(ctx, "alice@example.com", "password1", sdk.WithBackupCode(setup.BackupCodes[0])); err != nil {
			t.Fatalf("backup code during the rotation: %v", err)
		}
		counts := func(resealed, current int) []string {
			var out []string
			for _, kind := range []string{"TOTP secrets", "pending TOTP setups", "signing keys", "backup-code key"} {
				out = append(out, fmt.Sprintf(`(?m)^%s\s+%d\s+%d$`, kind, resealed, current))
			}
			return out
		}
		// Each step runs against the database the steps before it left.
		for _, step := range []struct {
			name     string
			env      []string
			args     []string
			wantCode int
			wantOut  []string // regular expressions
			wantErr  string
		}{
			{"without the previous key it refuses", withKeys(newKey, ""), []string{"encryption-key", "rotate"}, 1, nil,
				"PANGUARD_ENCRYPTION_KEY_PREVIOUS is not set"},
			{"with a wrong previous key it refuses and names what failed", withKeys(newKey, wrongKey), []string{"encryption-key", "rotate"}, 1, nil,
				"the backup-code key (settings row code_key) in the database opens with neither PANGUARD_ENCRYPTION_KEY nor PANGUARD_ENCRYPTION_KEY_PREVIOUS"},
			// One of each, as nothing was changed by the refusals.
			{"it re-seals every secret", withKeys(newKey, oldKey), []string{"encryption-key", "rotate"}, 0, counts(1, 0), ""},
			{"running it again changes nothing", withKeys(newKey, oldKey), []string{"encryption-key", "rotate"}, 0, counts(0, 1), ""},
			{"the old key alone no longer starts", withKeys(oldKey, ""), []string{"keys", "list"}, 1, nil,
				"was sealed with another encryption key than the configured one (PANGUARD_ENCRYPTION_KEY)"},
		} {
			code, out, errOut := runCLI(t, step.env, step.args...)
			if code != step.wantCode || !strings.Contains(errOut, step.wantErr) {
				t.Fatalf("%s: exit %d, stdout %q, stderr %q", step.name, code, out, errOut)
			}
			for _, w := range step.wantOut {
				if !regexp.MustCompile(w).MatchString(out) {
					t.Fatalf("%s: stdout %q does not match %q", step.name, out, w)
				}
			}
			if step.args[0] == "encryption-key" && strings.Contains(errOut, "panguard-auth: auth: ") {
				t.Fatalf("%s: internal error text on stderr: %q", step.name, errOut)
			}
			if strings.Contains(out+errOut, oldKey) || strings.Contains(out+errOut, newKey) {
				t.Fatalf("%s: a key in the output", step.name)
			}
		}
		during.cmd.Process.Kill()
		during.cmd.Wait()

		// After: only the new key, and everything works.
		after := startProcess(t, withKeys(newKey, "")...)
		if _, err := client(t, after.base).Login(ctx, "alice@example.com", "password1", sdk.WithBackupCode(setup.BackupCodes[1])); err != nil {
			t.Fatalf("backup code after the rotation: %v", err)
		}
		next, _ := oathtest.TOTP(setup.Secret, time.Now(), 1) // the enabling code's step is used
		if _, err := client(t, after.base).Login(ctx, "alice@example.com", "password1", sdk.WithTOTPCode(next)); err != nil {
			t.Fatalf("TOTP code after the rotation: %v", err)
		}
		if _, err := client(t, after.base).WithToken(alice.Token()).Me(ctx); err != nil {
			t.Fatalf("a token issued before the rotation: %v", err)
		}
		c, _ = oathtest.TOTP(pending.Secret, time.Now(), 0)
		if err := client(t, after.base).WithToken(carolToken).VerifyTotp(ctx, c); err != nil {
			t.Fatalf("confirming a setup started before the rotation: %v", err)
		}
	})
}
