package mail_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/mail"
)

// templatesDir writes files (name -> content) into a new directory and returns it.
func templatesDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestAnOverrideReplacesOnlyItsOwnTemplate(t *testing.T) {
	t.Parallel()
	dir := templatesDir(t, map[string]string{
		"password_reset.txt": "Hi {{.Name}}, reset your {{.Product}} password at {{.Link}} ({{duration .ExpiresInMinutes}}).\n",
		// Hidden entries, like a Kubernetes ConfigMap's ..data, are not templates.
		".gitkeep":                "",
		"..data/whatever":         "",
		".password_reset.txt.swp": "junk",
	})
	tm, err := mail.Load(dir, mail.Branding{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := tm.Render(sample(auth.TemplatePasswordReset))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hi Alice <b>Chen</b>, reset your Panguard password at https://auth.example.com/x?token=tok_1&a=<b> (24 hours).\n"; m.Text != want {
		t.Fatalf("text %q, want %q", m.Text, want)
	}
	def, err := mail.Render(sample(auth.TemplatePasswordReset))
	if err != nil {
		t.Fatal(err)
	}
	if m.HTML != def.HTML || m.Subject != def.Subject {
		t.Fatalf("the HTML part and the subject should stay embedded:\n%s\n%s", m.Subject, m.HTML)
	}
	other, err := tm.Render(sample(auth.TemplateVerifyEmail))
	if err != nil {
		t.Fatal(err)
	}
	if def, _ := mail.Render(sample(auth.TemplateVerifyEmail)); other != def {
		t.Fatalf("another template changed: %+v", other)
	}
}

func TestProductAndSupportAppearInSubjectsAndBodies(t *testing.T) {
	t.Parallel()
	tm, err := mail.Load("", mail.Branding{Product: "Acme Cloud", Support: "help@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range allTemplates {
		m, err := tm.Render(sample(name))
		if err != nil {
			t.Fatal(err)
		}
		for part, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML} {
			if !strings.Contains(s, "Acme Cloud") || strings.Contains(s, "Panguard") {
				t.Errorf("%s %s: %q", name, part, s)
			}
		}
		if !strings.Contains(m.Text, "Questions: write to help@acme.example\n") ||
			!strings.Contains(m.HTML, `<a href="mailto:help@acme.example">help@acme.example</a>`) {
			t.Errorf("%s: no support address:\n%s\n%s", name, m.Text, m.HTML)
		}
	}
}

func TestUserDataStaysEscapedInHTMLOverrides(t *testing.T) {
	t.Parallel()
	dir := templatesDir(t, map[string]string{
		"password_changed.html": `<p title="{{.Name}}">{{.Name}}</p><a href="{{.Link}}">go</a><script>var n = {{.Name}};</script>`,
	})
	tm, err := mail.Load(dir, mail.Branding{})
	if err != nil {
		t.Fatal(err)
	}
	e := sample(auth.TemplatePasswordChanged)
	e.Name, e.Link = `"><script>alert(1)</script>`, "javascript:alert(1)"
	m, err := tm.Render(e)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>alert") || strings.Contains(m.HTML, `href="javascript:`) || !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Fatalf("user data not escaped: %s", m.HTML)
	}
}

func TestSubjectsFileOverridesSubjects(t *testing.T) {
	t.Parallel()
	dir := templatesDir(t, map[string]string{
		mail.SubjectsFile: `{"verify_email": "Welcome to {{.Product}}, {{.Name}}"}`,
	})
	tm, err := mail.Load(dir, mail.Branding{Product: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	e := sample(auth.TemplateVerifyEmail)
	e.Name = "Eve\r\nBcc: x@example.com"
	m, err := tm.Render(e)
	if err != nil {
		t.Fatal(err)
	}
	// A subject is one header line whatever the data.
	if m.Subject != "Welcome to Acme, Eve Bcc: x@example.com" {
		t.Fatalf("subject %q", m.Subject)
	}
	if m, _ := tm.Render(sample(auth.TemplatePasswordReset)); m.Subject != "Reset your Acme password" {
		t.Fatalf("other subject %q", m.Subject)
	}
}

func TestBrokenOverridesAreRefusedNamingFileAndLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error; FILE is the directory's path
	}{
		{"an unknown file name", map[string]string{"pasword_reset.txt": "x"},
			[]string{"FILE/pasword_reset.txt", "not a known template", "password_reset"}},
		{"an unknown extension", map[string]string{"password_reset.md": "x"},
			[]string{"FILE/password_reset.md", "not a known template"}},
		{"a subdirectory", map[string]string{"old/password_reset.txt": "x"},
			[]string{"FILE/old", "not a known template"}},
		{"a syntax error in text", map[string]string{"verify_email.txt": "Hello {{.Name}},\n\nopen {{.Link}\n"},
			[]string{"FILE/verify_email.txt:3:"}},
		{"a syntax error in HTML", map[string]string{"verify_email.html": "<p>\n{{if .Name}}\n</p>\n"},
			[]string{"FILE/verify_email.html:", "unexpected EOF"}},
		{"an unknown function", map[string]string{"email_changed.txt": "a\nb {{upper .Name}}\n"},
			[]string{"FILE/email_changed.txt:2:", `"upper" not defined`}},
		{"an unknown field", map[string]string{"email_changed.txt": "Hello\n\n{{.Nope}}\n"},
			[]string{"FILE/email_changed.txt:3:", "Nope"}},
		{"an unknown field in HTML", map[string]string{"email_changed.html": "<p>Hello</p>\n<p>{{.Nope}}</p>\n"},
			[]string{"FILE/email_changed.html:2:", "Nope"}},
		{"HTML that ends inside an attribute", map[string]string{"totp_disabled.html": "<p>\n<a href=\"{{.Link}}>x</a>\n"},
			[]string{"FILE/totp_disabled.html:"}},
		{"a wrong argument", map[string]string{"password_reset.txt": "{{duration .Name}}"},
			[]string{"FILE/password_reset.txt:1:"}},
		{"subjects that are not JSON", map[string]string{mail.SubjectsFile: "password_reset: x"},
			[]string{"FILE/subjects.json", "JSON object"}},
		{"a subject for an unknown template", map[string]string{mail.SubjectsFile: `{"pasword_reset": "x"}`},
			[]string{"FILE/subjects.json", `"pasword_reset" is not a known template`}},
		{"a broken subject", map[string]string{mail.SubjectsFile: `{"password_reset": "{{.Nope}}"}`},
			[]string{"FILE/subjects.json password_reset:1:", "Nope"}},
		{"an empty subject", map[string]string{mail.SubjectsFile: `{"password_reset": " "}`},
			[]string{"FILE/subjects.json password_reset", "empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := templatesDir(t, tc.files)
			_, err := mail.Load(dir, mail.Branding{})
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if w = strings.ReplaceAll(w, "FILE", dir); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := mail.Load(filepath.Join(t.TempDir(), "missing"), mail.Branding{}); err == nil || !strings.Contains(err.Error(), "PANGUARD_TEMPLATES_DIR") {
		t.Fatalf("a missing directory: %v", err)
	}
}
