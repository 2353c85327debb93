package auth

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field limits from the contract.
const (
	NameMaxChars     = 100
	PasswordMinChars = 8
	PasswordMaxChars = 128
	EmailMaxBytes    = 254
)

// NormalizeEmail trims and lowercases an address; the result is how emails are stored and compared.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func validateEmail(email string) error {
	if email == "" {
		return invalid("Email is required")
	}
	if len(email) > EmailMaxBytes || !utf8.ValidString(email) {
		return invalid("Email must be a valid email address")
	}
	// mail.ParseAddress also accepts "Name <a@b>" forms; requiring the result to equal the
	// input keeps only bare addresses.
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return invalid("Email must be a valid email address")
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if !strings.Contains(domain, ".") || strings.ContainsAny(email, " \t\r\n\x00") {
		return invalid("Email must be a valid email address")
	}
	// A deliverable domain is a hostname: letters (any script), digits and inner hyphens.
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return invalid("Email must be a valid email address")
		}
		for _, r := range label {
			if r != '-' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				return invalid("Email must be a valid email address")
			}
		}
	}
	return nil
}

func validateName(name string) error {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > NameMaxChars {
		return invalid("Name must be 1-%d characters", NameMaxChars)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return invalid("Name must not contain control characters")
		}
	}
	return nil
}

func validatePassword(field, pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < PasswordMinChars || n > PasswordMaxChars {
		return invalid("%s must be %d-%d characters", field, PasswordMinChars, PasswordMaxChars)
	}
	return nil
}

// trimSpace trims Unicode white space, as "1-100 characters after trimming" means.
func trimSpace(s string) string { return strings.TrimFunc(s, unicode.IsSpace) }
