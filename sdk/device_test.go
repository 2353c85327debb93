package sdk_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"panguard.ai/auth/sdk"
)

// TestDeviceFlow: a device signs in through DeviceFlow while the user looks the code up and
// approves it with LookupDevice and ApproveDevice; a denied request fails with access_denied.
func TestDeviceFlow(t *testing.T) {
	t.Parallel()
	email, user := account(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := sdk.DeviceFlow(serverURL, "")
	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_name", "sdk test"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := user.LookupDevice(ctx, da.UserCode)
	if err != nil || req.ClientName != "sdk test" || req.UserCode != da.UserCode || req.ExpiresAt.Sub(req.RequestedAt) != 10*time.Minute {
		t.Fatalf("lookup: %+v %v", req, err)
	}
	if _, err := user.LookupDevice(ctx, "BBBB-BBBB"); !errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	if msg, err := user.ApproveDevice(ctx, da.UserCode, true); err != nil || msg == "" {
		t.Fatalf("approve: %q %v", msg, err)
	}
	tok, err := cfg.DeviceAccessToken(ctx, da)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := sdk.New(serverURL, sdk.WithToken(tok.AccessToken))
	me, err := c.Me(ctx)
	if err != nil || me.Email != email {
		t.Fatalf("me with the device token: %+v %v", me, err)
	}
	sessions, err := user.ListSessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, s := range sessions {
		found = found || (s.Method == "device" && s.UserAgent == "sdk test")
	}
	if !found {
		t.Fatalf("no device session: %+v", sessions)
	}

	da, err = cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := user.ApproveDevice(ctx, da.UserCode, false); err != nil {
		t.Fatal(err)
	}
	_, err = cfg.DeviceAccessToken(ctx, da)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "access_denied" {
		t.Fatalf("denied: %v", err)
	}
}
