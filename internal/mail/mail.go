// Package mail renders the service's emails from templates (plain text plus HTML, user data
// escaped; embedded, or an operator's overrides loaded and checked by Load) and delivers them
// over SMTP, or to the log when no SMTP server is set.
package mail

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/outbox"
)

//go:embed templates/*
var templateFS embed.FS

// defaultSubjects are the embedded subject lines, text/templates executed with the same
// Data as the bodies. Their keys are the known template names.
var defaultSubjects = map[string]string{
	auth.TemplatePasswordReset:          "Reset your {{.Product}} password",
	auth.TemplateRegistrationAttempt:    "Someone tried to create a {{.Product}} account with your email",
	auth.TemplateVerifyEmail:            "Verify your {{.Product}} email address",
	auth.TemplateConfirmEmailChange:     "Confirm your new {{.Product}} email address",
	auth.TemplateEmailChangeRequested:   "A change of your {{.Product}} email address was requested",
	auth.TemplateEmailChanged:           "Your {{.Product}} email address was changed",
	auth.TemplatePasswordChanged:        "Your {{.Product}} password was changed",
	auth.TemplatePasswordResetDone:      "Your {{.Product}} password was reset",
	auth.TemplateTOTPDisabled:           "Two-factor authentication was turned off on your {{.Product}} account",
	auth.TemplateBackupCodesRegenerated: "New {{.Product}} backup codes were generated",
	auth.TemplateAccountDeleted:         "Your {{.Product}} account was deleted",
	auth.TemplateTOTPResetByAdmin:       "An administrator removed two-factor authentication from your {{.Product}} account",
	auth.TemplateDeviceSignIn:           "A new device signed in to your {{.Product}} account",
	auth.TemplatePasskeyAdded:           "A passkey was added to your {{.Product}} account",
}

// SubjectsFile is the file of a templates directory that overrides subject lines: a JSON
// object from template name to a text/template, e.g. {"password_reset": "Your {{.Product}} reset link"}.
const SubjectsFile = "subjects.json"

// DefaultProduct is the product name emails use unless configured otherwise.
const DefaultProduct = "Panguard"

// Branding is what every template can show besides the email's own fields.
type Branding struct {
	// Product names the service in subjects and bodies ("" means DefaultProduct).
	Product string
	// Support is an address users can write to, or "" (the embedded templates then leave
	// out the line naming it).
	Support string
}

// Data is what subject and body templates are executed with: the email's fields (Name,
// Link, ExpiresInMinutes, Address, To, Template) and the branding ({{.Product}}, {{.Support}}).
type Data struct {
	auth.Email
	Product string
	Support string
}

var funcs = map[string]any{"duration": duration}

// duration spells a link lifetime given in minutes the way people say it: "60 minutes" reads
// oddly for an hour, "1440 minutes" more so for a day.
func duration(minutes int) string {
	switch {
	case minutes == 60:
		return "1 hour"
	case minutes > 60 && minutes%60 == 0:
		return strconv.Itoa(minutes/60) + " hours"
	case minutes == 1:
		return "1 minute"
	default:
		return strconv.Itoa(minutes) + " minutes"
	}
}

// Message is a rendered email.
type Message struct {
	To, Subject, Text, HTML string
}

// set is one email's three templates.
type set struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Templates are the email templates ready to render: the embedded ones, each replaced by the
// operator's file of the same name when there is one. Safe for concurrent use.
type Templates struct {
	brand Branding
	sets  map[string]set
}

// defaults are the embedded templates with the default branding, for Render and Handler.
var defaults = func() *Templates {
	t, err := Load("", Branding{})
	if err != nil {
		panic(err)
	}
	return t
}()

// Load builds the templates: the embedded ones, overridden by the files of dir ("" means
// none). In dir, NAME.txt and NAME.html replace the embedded body of the same name and
// SubjectsFile replaces subject lines; hidden entries (such as a Kubernetes ConfigMap's
// ..data) are skipped; anything else is an error, as is a name that is not a known template.
// Every template is then executed once with sample data, so a template that cannot parse or
// run stops the caller now rather than failing each email later; the error names the file and
// line ("template: /dir/password_reset.txt:3: ..."). HTML templates are html/template, so
// user data in them is escaped by context whatever the file says.
func Load(dir string, b Branding) (*Templates, error) {
	b.Product = cmp.Or(b.Product, DefaultProduct)
	t := &Templates{brand: b, sets: make(map[string]set, len(defaultSubjects))}
	sources := map[string]string{} // template file name -> where it is read from
	subjects := maps.Clone(defaultSubjects)
	subjectSource := map[string]string{}
	for name := range defaultSubjects {
		sources[name+".txt"] = "templates/" + name + ".txt"
		sources[name+".html"] = "templates/" + name + ".html"
		subjectSource[name] = "subject of " + name
	}
	overrides := map[string]string{} // template file name -> content of the operator's file
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("mail: PANGUARD_TEMPLATES_DIR: %w", err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			path := filepath.Join(dir, name)
			if _, known := sources[name]; !known && name != SubjectsFile {
				return nil, fmt.Errorf("mail: PANGUARD_TEMPLATES_DIR: %s: not a known template file: expected NAME.txt, NAME.html or %s, NAME one of %s",
					path, SubjectsFile, strings.Join(slices.Sorted(maps.Keys(defaultSubjects)), ", "))
			}
			content, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("mail: PANGUARD_TEMPLATES_DIR: %w", err)
			}
			if name == SubjectsFile {
				var m map[string]string
				if err := json.Unmarshal(content, &m); err != nil {
					return nil, fmt.Errorf("mail: PANGUARD_TEMPLATES_DIR: %s: want a JSON object from template name to subject: %w", path, err)
				}
				for k, v := range m {
					if _, ok := defaultSubjects[k]; !ok {
						return nil, fmt.Errorf("mail: PANGUARD_TEMPLATES_DIR: %s: %q is not a known template", path, k)
					}
					subjects[k], subjectSource[k] = v, path+" "+k
				}
				continue
			}
			sources[name], overrides[name] = path, string(content)
		}
	}
	for name := range defaultSubjects {
		var s set
		var err error
		read := func(file string) (string, error) {
			if c, ok := overrides[file]; ok {
				return c, nil
			}
			c, err := templateFS.ReadFile("templates/" + file)
			return string(c), err
		}
		// Each template is named by where it comes from, so parse and execution errors
		// ("template: NAME:LINE: ...") name the file.
		if s.subject, err = texttemplate.New(subjectSource[name]).Funcs(funcs).Parse(subjects[name]); err != nil {
			return nil, loadError(dir, err)
		}
		src, err := read(name + ".txt")
		if err != nil {
			return nil, err
		}
		if s.text, err = texttemplate.New(sources[name+".txt"]).Funcs(funcs).Parse(src); err != nil {
			return nil, loadError(dir, err)
		}
		if src, err = read(name + ".html"); err != nil {
			return nil, err
		}
		if s.html, err = htmltemplate.New(sources[name+".html"]).Funcs(funcs).Parse(src); err != nil {
			return nil, loadError(dir, err)
		}
		t.sets[name] = s
		m, err := t.render(sampleEmail(name))
		if err != nil {
			return nil, loadError(dir, err)
		}
		if m.Subject == "" {
			return nil, loadError(dir, fmt.Errorf("%s: the subject is empty", subjectSource[name]))
		}
	}
	return t, nil
}

// loadError says which setting a template error comes from when it is the operator's.
func loadError(dir string, err error) error {
	if dir == "" {
		return fmt.Errorf("mail: embedded templates: %w", err)
	}
	return fmt.Errorf("mail: PANGUARD_TEMPLATES_DIR: %w", err)
}

// sampleEmail is what templates are tried with at load: every field set, as in real emails.
func sampleEmail(name string) auth.Email {
	return auth.Email{
		To: "alice@example.com", Template: name, Name: "Alice Example",
		Link: "https://auth.example.com/reset-password?token=sample", ExpiresInMinutes: 60,
		Address: "a***@example.org", Device: "panguard CLI on build-box (from 203.0.113.7)",
	}
}

// Render turns an email into its message. It returns an error for an unknown template, or
// when a template fails to execute.
func (t *Templates) Render(e auth.Email) (Message, error) {
	m, err := t.render(e)
	if err != nil {
		return Message{}, fmt.Errorf("mail: %w", err)
	}
	return m, nil
}

func (t *Templates) render(e auth.Email) (Message, error) {
	s, ok := t.sets[e.Template]
	if !ok {
		return Message{}, fmt.Errorf("unknown template %q", e.Template)
	}
	d := Data{Email: e, Product: t.brand.Product, Support: t.brand.Support}
	var subject, text, html strings.Builder
	if err := s.subject.Execute(&subject, d); err != nil {
		return Message{}, err
	}
	if err := s.text.Execute(&text, d); err != nil {
		return Message{}, err
	}
	// html/template escapes every field by context, so a name like <script> arrives inert.
	if err := s.html.Execute(&html, d); err != nil {
		return Message{}, err
	}
	// A subject is one header line, whatever data an operator's subject template shows.
	subj := strings.Join(strings.Fields(subject.String()), " ")
	return Message{To: e.To, Subject: subj, Text: text.String(), HTML: html.String()}, nil
}

// Render turns an email into its message with the embedded templates and default branding.
// It returns an error for an unknown template.
func Render(e auth.Email) (Message, error) { return defaults.Render(e) }

// Transport delivers a rendered message.
type Transport interface {
	Send(ctx context.Context, m Message) error
}

// Handler is the outbox handler for auth.OutboxEmail entries, rendering with t.
func (t *Templates) Handler(tr Transport) outbox.Handler {
	return func(ctx context.Context, payload string) error {
		var e auth.Email
		if err := json.Unmarshal([]byte(payload), &e); err != nil {
			return outbox.Permanent(fmt.Errorf("mail: payload: %w", err))
		}
		m, err := t.Render(e)
		if err != nil {
			return outbox.Permanent(err)
		}
		return tr.Send(ctx, m)
	}
}

// Handler is the outbox handler for auth.OutboxEmail entries, rendering with the embedded
// templates and default branding.
func Handler(t Transport) outbox.Handler { return defaults.Handler(t) }

// LogTransport prints messages to the log: the zero-configuration default, so a developer
// can follow a reset link without a mail server. Never use it in production: the log then
// holds live reset links.
type LogTransport struct{ Log *slog.Logger }

// Send implements Transport.
func (l LogTransport) Send(ctx context.Context, m Message) error {
	l.Log.InfoContext(ctx, "email (log transport: set PANGUARD_SMTP_URL to send real mail)",
		"to", m.To, "subject", m.Subject, "body", m.Text)
	return nil
}

// SMTPTransport sends through an SMTP server with go-mail.
type SMTPTransport struct {
	from string
	opts []gomail.Option
	host string
}

// NewSMTP configures SMTP from a URL: smtp://[user:pass@]host[:port] uses STARTTLS when the
// server offers it (and requires it when credentials would otherwise cross a non-loopback
// network in clear text); smtps://… uses implicit TLS. from is the sender address; helo is
// the name this host greets with (a fully qualified name; "" means localhost.localdomain).
// It returns an error for a malformed URL or sender.
func NewSMTP(rawURL, from, helo string) (*SMTPTransport, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mail: PANGUARD_SMTP_URL: %w", err)
	}
	if err := gomail.NewMsg().From(from); err != nil {
		return nil, fmt.Errorf("mail: PANGUARD_MAIL_FROM: %w", err)
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("mail: PANGUARD_SMTP_URL needs a host")
	}
	if !strings.Contains(helo, ".") {
		// Many servers refuse a bare "localhost" greeting (RFC 5321 wants a domain).
		helo = "localhost.localdomain"
	}
	opts := []gomail.Option{gomail.WithTimeout(15 * time.Second), gomail.WithHELO(helo)}
	port := 0
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("mail: bad port %q", p)
		}
	}
	hasCreds := u.User != nil && u.User.Username() != ""
	switch u.Scheme {
	case "smtps":
		if port == 0 {
			port = 465
		}
		opts = append(opts, gomail.WithSSL())
	case "smtp":
		if port == 0 {
			port = 587
		}
		policy := gomail.TLSOpportunistic
		if hasCreds && !isLoopback(host) {
			policy = gomail.TLSMandatory
		}
		opts = append(opts, gomail.WithTLSPolicy(policy))
	default:
		return nil, fmt.Errorf("mail: PANGUARD_SMTP_URL scheme must be smtp or smtps")
	}
	opts = append(opts, gomail.WithPort(port))
	if hasCreds {
		pw, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pw))
	}
	return &SMTPTransport{from: from, opts: opts, host: host}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send implements Transport. A 5xx rejection is permanent; anything else is retried.
func (s *SMTPTransport) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return outbox.Permanent(err)
	}
	if err := msg.To(m.To); err != nil {
		return outbox.Permanent(err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return outbox.Permanent(err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.Reason == gomail.ErrSMTPRcptTo {
			return outbox.Permanent(err)
		}
		return err
	}
	return nil
}
