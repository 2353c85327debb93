package sdk

// Signing a CLI in through the browser (OAuth 2.0 device authorization grant, RFC 8628).
// The device's side is plain OAuth: DeviceFlow returns a golang.org/x/oauth2 configuration
// whose DeviceAuth and DeviceAccessToken run it. The signed-in user's side — look up the code
// the device shows, approve or deny it — is LookupDevice and ApproveDevice.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"panguard.ai/auth/sdk/rest"
)

// DefaultDeviceClient is the client_id the service accepts unless configured otherwise
// (PANGUARD_DEVICE_CLIENTS).
const DefaultDeviceClient = "panguard-cli"

// DeviceFlow returns the OAuth 2.0 configuration of the device grant of the server at
// baseURL for clientID ("" for DefaultDeviceClient). Run it with golang.org/x/oauth2:
//
//	cfg := sdk.DeviceFlow("https://auth.panguard.ai", "")
//	da, err := cfg.DeviceAuth(ctx, oauth2.SetAuthURLParam("client_name", "panguard CLI on build-box"))
//	// show da.VerificationURI and da.UserCode
//	tok, err := cfg.DeviceAccessToken(ctx, da) // polls at the server's interval, honouring slow_down
//
// tok.AccessToken is a session token like Login's (use it with WithToken). DeviceAccessToken
// fails with an *oauth2.RetrieveError whose ErrorCode is "access_denied" or "expired_token"
// when the user denies the request or lets it expire.
func DeviceFlow(baseURL, clientID string) *oauth2.Config {
	if clientID == "" {
		clientID = DefaultDeviceClient
	}
	base := strings.TrimRight(baseURL, "/")
	return &oauth2.Config{
		ClientID: clientID,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: base + "/oauth/device_authorization",
			TokenURL:      base + "/oauth/token",
			// A public client sends its client_id in the form; probing for HTTP Basic first
			// would poll twice per tick and earn a slow_down each time.
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// DeviceRequest is a CLI's pending sign-in as the approving user sees it.
type DeviceRequest struct {
	UserCode    string
	ClientName  string
	IP          string // where the device asked from
	RequestedAt time.Time
	ExpiresAt   time.Time
}

// LookupDevice shows the pending sign-in behind the code a CLI displays (any case, dash
// optional), so the user can check it is theirs. Errors: ErrUnauthenticated, ErrNotFound
// (unknown, expired or already decided code), ErrRateLimited (too many unknown codes tried).
func (c *Client) LookupDevice(ctx context.Context, userCode string) (*DeviceRequest, error) {
	r, err := c.api.LookupDeviceWithResponse(ctx, &rest.LookupDeviceParams{UserCode: userCode}, c.auth)
	if err != nil {
		return nil, fmt.Errorf("sdk: lookup device: %w", err)
	}
	if r.JSON200 == nil {
		return nil, responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	d := r.JSON200.Data
	return &DeviceRequest{UserCode: d.UserCode, ClientName: d.ClientName, IP: d.Ip, RequestedAt: d.RequestedAt.Time, ExpiresAt: d.ExpiresAt.Time}, nil
}

// ApproveDevice approves (approve true: the device is signed in to this account) or denies
// the pending sign-in behind userCode, and returns the service's message.
// Errors: ErrUnauthenticated, ErrNotFound, ErrRateLimited.
func (c *Client) ApproveDevice(ctx context.Context, userCode string, approve bool) (string, error) {
	r, err := c.api.ApproveDeviceWithResponse(ctx, rest.ApproveDeviceJSONRequestBody{UserCode: userCode, Approve: approve}, c.auth)
	if err != nil {
		return "", fmt.Errorf("sdk: approve device: %w", err)
	}
	if r.JSON200 == nil {
		return "", responseError(r.StatusCode(), r.HTTPResponse.Header, r.Body)
	}
	return r.JSON200.Data.Message, nil
}
