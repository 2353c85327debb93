package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/servertest"
	"panguard.ai/auth/sdk"
)

// serverURL is a real Panguard Auth server (in-process, on an httptest server) the examples
// talk to, started by TestMain.
var serverURL string

// serverLog is the service's JSON log, where the emails it sends are printed (so tests can
// follow the links in them).
var serverLog syncBuffer

func TestMain(m *testing.M) {
	os.Exit(runWithServer(m))
}

func runWithServer(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sdk-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	srv, err := servertest.Start(servertest.Config("sqlite://"+filepath.Join(dir, "auth.db")), slog.New(slog.NewJSONHandler(&serverLog, nil)))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	serverURL = srv.URL
	return m.Run()
}

// A CLI registers, then reads the profile with the session token.
func Example() {
	ctx := context.Background()
	c, err := sdk.New(serverURL)
	if err != nil {
		panic(err)
	}
	reg, err := c.Register(ctx, "alice@example.com", "Alice Chen", "secureP@ssw0rd")
	if err != nil {
		panic(err)
	}
	me, err := c.WithToken(reg.Session.Token).Me(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(me.Name, me.Tier, *me.MachineLimit, me.TrialEndsAt.Sub(me.CreatedAt))
	// Output: Alice Chen solo 3 336h0m0s
}

// Login with two-factor authentication: the first call reports that a code is needed.
func ExampleClient_Login() {
	ctx := context.Background()
	c, _ := sdk.New(serverURL)
	reg, _ := c.Register(ctx, "bob@example.com", "Bob", "secureP@ssw0rd")
	bob := c.WithToken(reg.Session.Token)
	setup, _ := bob.SetupTotp(ctx)
	code, _ := oathtest.TOTP(setup.Secret, time.Now(), -1) // what the authenticator app shows
	if err := bob.VerifyTotp(ctx, code); err != nil {
		panic(err)
	}

	_, err := c.Login(ctx, "bob@example.com", "secureP@ssw0rd")
	if errors.Is(err, sdk.ErrTOTPRequired) {
		fmt.Println("second factor required")
		code, _ = oathtest.TOTP(setup.Secret, time.Now(), 0)
		s, err := c.Login(ctx, "bob@example.com", "secureP@ssw0rd", sdk.WithTOTPCode(code))
		if err != nil {
			panic(err)
		}
		fmt.Println("logged in, 2FA on:", s.User.TOTPEnabled)
	}
	// Output:
	// second factor required
	// logged in, 2FA on: true
}

// Errors carry a stable reason; compare them with errors.Is.
func ExampleError() {
	c, _ := sdk.New(serverURL)
	_, err := c.Login(context.Background(), "nobody@example.com", "wrong-password")
	var e *sdk.Error
	if errors.As(err, &e) {
		fmt.Println(errors.Is(err, sdk.ErrInvalidCredentials), e.Status, e.Code, e.Reason)
	}
	// Output: true 401 unauthenticated invalid_credentials
}
