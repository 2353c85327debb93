package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/sdk"
)

// List the account's sessions and sign out every other device.
func ExampleClient_ListSessions() {
	ctx := context.Background()
	c, _ := sdk.New(serverURL)
	if _, err := c.Register(ctx, "carol@example.com", "Carol", "secureP@ssw0rd"); err != nil {
		panic(err)
	}
	s, err := c.Login(ctx, "carol@example.com", "secureP@ssw0rd")
	if err != nil {
		panic(err)
	}
	carol := c.WithToken(s.Token)
	sessions, err := carol.ListSessions(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("sessions:", len(sessions))
	for _, s := range sessions {
		if s.Current {
			fmt.Println("this one was opened by:", s.Method)
		}
	}
	n, err := carol.RevokeOtherSessions(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("revoked:", n)
	// Output:
	// sessions: 2
	// this one was opened by: password
	// revoked: 1
}

// Changing the password re-authenticates: with 2FA on, the first call reports that a code is
// needed, and the second sends it.
func ExampleClient_ChangePassword() {
	ctx := context.Background()
	c, _ := sdk.New(serverURL)
	reg, _ := c.Register(ctx, "dave@example.com", "Dave", "secureP@ssw0rd")
	dave := c.WithToken(reg.Session.Token)
	setup, _ := dave.SetupTotp(ctx)
	code, _ := oathtest.TOTP(setup.Secret, time.Now(), -1)
	if err := dave.VerifyTotp(ctx, code); err != nil {
		panic(err)
	}

	err := dave.ChangePassword(ctx, "secureP@ssw0rd", "an even better passphrase")
	if errors.Is(err, sdk.ErrTOTPRequired) {
		fmt.Println("second factor required")
		code, _ = oathtest.TOTP(setup.Secret, time.Now(), 0) // what the authenticator app shows
		err = dave.ChangePassword(ctx, "secureP@ssw0rd", "an even better passphrase", sdk.WithReauthTOTP(code))
	}
	fmt.Println("changed:", err == nil)
	// Output:
	// second factor required
	// changed: true
}

// Security activity comes newest first, a page at a time.
func ExampleClient_ListActivity() {
	ctx := context.Background()
	c, _ := sdk.New(serverURL)
	c.Register(ctx, "erin@example.com", "Erin", "secureP@ssw0rd")
	s, _ := c.Login(ctx, "erin@example.com", "secureP@ssw0rd")
	erin := c.WithToken(s.Token)

	before := ""
	for {
		page, err := erin.ListActivity(ctx, 1, before)
		if err != nil {
			panic(err)
		}
		for _, e := range page.Events {
			fmt.Println(e.Type, e.Actor)
		}
		if page.NextCursor == "" {
			break
		}
		before = page.NextCursor
	}
	// Output:
	// login self
	// registered self
}

// Export everything the service holds about the account; JSON is the record as served, ready
// to save.
func ExampleClient_ExportAccount() {
	ctx := context.Background()
	c, _ := sdk.New(serverURL)
	reg, _ := c.Register(ctx, "frank@example.com", "Frank", "secureP@ssw0rd")
	x, err := c.WithToken(reg.Session.Token).ExportAccount(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(x.User.Email, len(x.Sessions), x.TwoFactor.Enabled, len(x.Passkeys), json.Valid(x.JSON))
	// Output: frank@example.com 1 false 0 true
}

// Deleting the account ends every session at once.
func ExampleClient_DeleteAccount() {
	ctx := context.Background()
	c, _ := sdk.New(serverURL)
	reg, _ := c.Register(ctx, "grace@example.com", "Grace", "secureP@ssw0rd")
	grace := c.WithToken(reg.Session.Token)
	if err := grace.DeleteAccount(ctx, "secureP@ssw0rd"); err != nil {
		panic(err)
	}
	_, err := grace.Me(ctx)
	fmt.Println(errors.Is(err, sdk.ErrUnauthenticated))
	// Output: true
}
