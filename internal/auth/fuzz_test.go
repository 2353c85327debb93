package auth

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var nasty = []string{
	"", " ", "\x00", "a@b.co", " USER@Example.COM ", "a@b", "@", "a@@b.co", "\xff\xfe", "é@ü.de",
	strings.Repeat("a", 300) + "@x.io", "<script>@x.io", "a\x00b@c.de", "\"quoted\"@x.io", "Name <a@b.co>",
	strings.Repeat("[", 5000), "null", "𝓤𝓷𝓲𝓬𝓸𝓭𝓮", "\u202e", "\r\n",
}

// FuzzValidators: no input makes the validators panic, and normalization is idempotent and
// only ever accepts what it can store.
func FuzzValidators(f *testing.F) {
	for _, s := range nasty {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, email, name, password string) {
		e := NormalizeEmail(email)
		if NormalizeEmail(e) != e {
			t.Fatalf("NormalizeEmail not idempotent on %q", email)
		}
		if validateEmail(e) == nil && (len(e) > EmailMaxBytes || !utf8.ValidString(e) || !strings.Contains(e, "@")) {
			t.Fatalf("accepted email %q", e)
		}
		n := trimSpace(name)
		if validateName(n) == nil && (utf8.RuneCountInString(n) > NameMaxChars || n == "") {
			t.Fatalf("accepted name %q", n)
		}
		if err := validatePassword("Password", password); err == nil {
			if c := utf8.RuneCountInString(password); c < PasswordMinChars || c > PasswordMaxChars {
				t.Fatalf("accepted password of %d characters", c)
			}
		}
		_ = normalizeBackupCode(password)
	})
}

// FuzzDecodePHC: stored hashes are parsed without panics, and only sane parameters pass
// (a corrupted row must not make us allocate gigabytes).
func FuzzDecodePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=4294967295,t=4294967295,p=255$AA$AA")
	f.Add("$argon2i$v=19$m=1,t=1,p=1$$")
	for _, s := range nasty {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, _, _, err := decodePHC(s)
		if err == nil && (p.MemoryKiB > 4<<20 || p.Iterations > 100 || p.Parallelism == 0) {
			t.Fatalf("accepted parameters %+v", p)
		}
	})
}

// FuzzTokenParse: any bearer string is either a valid token of ours or ErrUnauthenticated.
func FuzzTokenParse(f *testing.F) {
	tk := newTokens([]byte("0123456789abcdef0123456789abcdef"), "panguard-auth", "panguard", 0, 0, nil)
	f.Add("eyJhbGciOiJub25lIn0.eyJzaWQiOiJ4In0.")
	f.Add("a.b.c")
	for _, s := range nasty {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := tk.parse(raw); err != nil && err != ErrUnauthenticated {
			t.Fatalf("parse(%q) = %v", raw, err)
		}
	})
}
