// Package mail renders the service's emails from embedded templates (plain text plus HTML,
// user data escaped) and delivers them over SMTP, or to the log when no SMTP server is set.
package mail

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"net"
	"net/url"
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

var (
	textTemplates = texttemplate.Must(texttemplate.New("").Funcs(texttemplate.FuncMap{"duration": duration}).ParseFS(templateFS, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").Funcs(htmltemplate.FuncMap{"duration": duration}).ParseFS(templateFS, "templates/*.html"))
	subjects      = map[string]string{
		auth.TemplatePasswordReset:          "Reset your Panguard password",
		auth.TemplateRegistrationAttempt:    "Someone tried to create a Panguard account with your email",
		auth.TemplateVerifyEmail:            "Verify your Panguard email address",
		auth.TemplateConfirmEmailChange:     "Confirm your new Panguard email address",
		auth.TemplateEmailChangeRequested:   "A change of your Panguard email address was requested",
		auth.TemplateEmailChanged:           "Your Panguard email address was changed",
		auth.TemplatePasswordChanged:        "Your Panguard password was changed",
		auth.TemplatePasswordResetDone:      "Your Panguard password was reset",
		auth.TemplateTOTPDisabled:           "Two-factor authentication was turned off on your Panguard account",
		auth.TemplateBackupCodesRegenerated: "New Panguard backup codes were generated",
		auth.TemplateAccountDeleted:         "Your Panguard account was deleted",
		auth.TemplateTOTPResetByAdmin:       "An administrator removed two-factor authentication from your Panguard account",
	}
)

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

// Render turns an email into its message. It returns an error for an unknown template.
func Render(e auth.Email) (Message, error) {
	subject, ok := subjects[e.Template]
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown template %q", e.Template)
	}
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, e.Template+".txt", e); err != nil {
		return Message{}, fmt.Errorf("mail: %w", err)
	}
	// html/template escapes every field by context, so a name like <script> arrives inert.
	if err := htmlTemplates.ExecuteTemplate(&html, e.Template+".html", e); err != nil {
		return Message{}, fmt.Errorf("mail: %w", err)
	}
	return Message{To: e.To, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}

// Transport delivers a rendered message.
type Transport interface {
	Send(ctx context.Context, m Message) error
}

// Handler is the outbox handler for auth.OutboxEmail entries.
func Handler(t Transport) outbox.Handler {
	return func(ctx context.Context, payload string) error {
		var e auth.Email
		if err := json.Unmarshal([]byte(payload), &e); err != nil {
			return outbox.Permanent(fmt.Errorf("mail: payload: %w", err))
		}
		m, err := Render(e)
		if err != nil {
			return outbox.Permanent(err)
		}
		return t.Send(ctx, m)
	}
}

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
