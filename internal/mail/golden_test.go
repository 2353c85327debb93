package mail_test

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/mail"
)

var update = flag.Bool("update", false, "rewrite testdata/default.golden from the embedded templates")

// allTemplates are the templates the domain sends.
var allTemplates = []string{
	auth.TemplatePasswordReset, auth.TemplateRegistrationAttempt, auth.TemplateVerifyEmail,
	auth.TemplateConfirmEmailChange, auth.TemplateEmailChangeRequested, auth.TemplateEmailChanged,
	auth.TemplatePasswordChanged, auth.TemplatePasswordResetDone, auth.TemplateTOTPDisabled,
	auth.TemplateBackupCodesRegenerated, auth.TemplateAccountDeleted, auth.TemplateTOTPResetByAdmin, auth.TemplatePasskeyAdded,
	auth.TemplateDeviceSignIn,
}

// sample is an email with every field set, markup included.
func sample(template string) auth.Email {
	return auth.Email{
		To: "alice@example.com", Template: template, Name: "Alice <b>Chen</b>",
		Link: "https://auth.example.com/x?token=tok_1&a=<b>", ExpiresInMinutes: 1440, Address: "n***@example.org",
		Device: "panguard CLI on <b>box</b> (from 203.0.113.7)",
	}
}

// TestEmbeddedTemplatesRenderAsBefore: with the default branding, every email is exactly what
// testdata/default.golden holds (run with -update after deliberately changing a template).
func TestEmbeddedTemplatesRenderAsBefore(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for _, name := range allTemplates {
		m, err := mail.Render(sample(name))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "===== %s\nTo: %s\nSubject: %s\n----- text\n%s----- html\n%s", name, m.To, m.Subject, m.Text, m.HTML)
	}
	const path = "testdata/default.golden"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Fatalf("rendered emails differ from %s:\n%s", path, b.String())
	}
}
