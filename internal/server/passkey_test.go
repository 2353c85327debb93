package server

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/internal/webauthntest"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// Passkeys over every RPC protocol: register and sign in through PasskeyService, the
// failures carrying their reasons and Connect codes, and FinishPasskeyLogin treated as a
// sign-in RPC (the dashboard's session cookie over Connect and gRPC-web, never over gRPC).
func TestPasskeysOverEveryRPCProtocol(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		_, a := startWithMail(t, dbURL, "")
		base := startH2C(t, a)
		honest := webauthntest.Options{Origin: "http://panguard.test"}
		for name, opts := range map[string][]connect.ClientOption{
			"connect":  nil,
			"grpc":     {connect.WithGRPC()},
			"grpc-web": {connect.WithGRPCWeb()},
		} {
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				hc := http.DefaultClient
				if name == "grpc" {
					hc = h2cClient()
				}
				authc := authv1connect.NewAuthServiceClient(hc, base, opts...)
				pkc := authv1connect.NewPasskeyServiceClient(hc, base, opts...)
				reg, err := authc.Register(ctx, connect.NewRequest(&authv1.RegisterRequest{Email: name + "-pk@example.com", Name: "P", Password: "password1"}))
				if err != nil {
					t.Fatal(err)
				}
				bearer := func(r connect.AnyRequest) { r.Header().Set("Authorization", "Bearer "+reg.Msg.Token) }

				breq := connect.NewRequest(&authv1.BeginPasskeyRegistrationRequest{Password: "wrong-password"})
				bearer(breq)
				if _, err := pkc.BeginPasskeyRegistration(ctx, breq); reasonOf(err) != "invalid_password" {
					t.Fatalf("begin with a wrong password: %v", err)
				}
				breq = connect.NewRequest(&authv1.BeginPasskeyRegistrationRequest{Password: "password1"})
				bearer(breq)
				begun, err := pkc.BeginPasskeyRegistration(ctx, breq)
				if err != nil {
					t.Fatal(err)
				}
				js, cred, err := webauthntest.Create([]byte(begun.Msg.OptionsJson), honest)
				if err != nil {
					t.Fatal(err)
				}
				freq := connect.NewRequest(&authv1.FinishPasskeyRegistrationRequest{ChallengeId: begun.Msg.ChallengeId, CredentialJson: string(js), Name: "Key"})
				bearer(freq)
				added, err := pkc.FinishPasskeyRegistration(ctx, freq)
				if err != nil || added.Msg.Passkey.Name != "Key" {
					t.Fatalf("finish registration: %v", err)
				}
				lreq := connect.NewRequest(&authv1.ListPasskeysRequest{})
				bearer(lreq)
				if list, err := pkc.ListPasskeys(ctx, lreq); err != nil || len(list.Msg.Passkeys) != 1 {
					t.Fatalf("list: %v", err)
				}

				signIn := func(cookie bool) (*connect.Response[authv1.FinishPasskeyLoginResponse], string, error) {
					lb, err := pkc.BeginPasskeyLogin(ctx, connect.NewRequest(&authv1.BeginPasskeyLoginRequest{}))
					if err != nil {
						return nil, "", err
					}
					as, _ := webauthntest.Get([]byte(lb.Msg.OptionsJson), cred, honest)
					req := connect.NewRequest(&authv1.FinishPasskeyLoginRequest{ChallengeId: lb.Msg.ChallengeId, CredentialJson: string(as)})
					if cookie {
						req.Header().Set(sessionCookieHeader, "cookie")
					}
					res, err := pkc.FinishPasskeyLogin(ctx, req)
					return res, string(as), err
				}
				res, as, err := signIn(false)
				if err != nil || res.Msg.Token == "" || res.Msg.User.Email != name+"-pk@example.com" || res.Header().Get("Set-Cookie") != "" {
					t.Fatalf("sign-in: %v", err)
				}
				// The same assertion again, to a new challenge: 401 invalid_passkey.
				lb, _ := pkc.BeginPasskeyLogin(ctx, connect.NewRequest(&authv1.BeginPasskeyLoginRequest{}))
				_, err = pkc.FinishPasskeyLogin(ctx, connect.NewRequest(&authv1.FinishPasskeyLoginRequest{ChallengeId: lb.Msg.ChallengeId, CredentialJson: as}))
				var ce *connect.Error
				if !errors.As(err, &ce) || ce.Code() != connect.CodeUnauthenticated || reasonOf(err) != "invalid_passkey" {
					t.Fatalf("replayed assertion: %v", err)
				}
				// The same challenge again: 400 invalid_challenge.
				_, err = pkc.FinishPasskeyLogin(ctx, connect.NewRequest(&authv1.FinishPasskeyLoginRequest{ChallengeId: lb.Msg.ChallengeId, CredentialJson: as}))
				if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument || reasonOf(err) != "invalid_challenge" {
					t.Fatalf("reused challenge: %v", err)
				}

				// Asking for the cookie: browsers' protocols get it and no token; gRPC does not.
				res, _, err = signIn(true)
				if err != nil {
					t.Fatal(err)
				}
				ck := sessionCookieOf(t, res.Header())
				if name == "grpc" {
					if ck != nil || res.Msg.Token == "" {
						t.Fatalf("gRPC sign-in asking for a cookie: cookie %v, token %q", ck, res.Msg.Token)
					}
				} else if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || res.Msg.Token != "" {
					t.Fatalf("cookie sign-in: cookie %+v, token %q", ck, res.Msg.Token)
				}

				dreq := connect.NewRequest(&authv1.DeletePasskeyRequest{Id: added.Msg.Passkey.Id, Password: "password1"})
				bearer(dreq)
				if _, err := pkc.DeletePasskey(ctx, dreq); err != nil {
					t.Fatalf("delete: %v", err)
				}
			})
		}
	})
}
