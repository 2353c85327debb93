package server

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"panguard.ai/auth/internal/storetest"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

func TestJWKSPublishesTheKeyThatSignedTheToken(t *testing.T) {
	t.Parallel()
	_, a := startWithMail(t, storetest.SQLiteURL(t), "")
	base := startH2C(t, a)
	tok, err := drivers(t, base)["connect"].register(context.Background(), "jwks@example.com", "J", "password1")
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "public, max-age=300" || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, headers %v", res.StatusCode, res.Header)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %+v %v", set, err)
	}
	k := set.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["use"] != "sig" || len(k) != 6 {
		t.Fatalf("key %v", k)
	}
	// The token verifies with the published key alone: header and signature, by hand.
	parts := strings.Split(tok, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h map[string]string
	_ = json.Unmarshal(hdr, &h)
	pub, _ := base64.RawURLEncoding.DecodeString(k["x"])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if h["alg"] != "EdDSA" || h["kid"] != k["kid"] || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatalf("token header %v does not verify with the published key", h)
	}
}

// introspector is one way of calling introspect.
type introspector func(ctx context.Context, serviceKey, token string) (active bool, sub, tier string, limit *int, err error)

func introspectors(base string) map[string]introspector {
	rpc := func(c authv1connect.AuthServiceClient) introspector {
		return func(ctx context.Context, key, token string) (bool, string, string, *int, error) {
			req := connect.NewRequest(&authv1.IntrospectRequest{Token: token})
			if key != "" {
				req.Header().Set("Authorization", "Bearer "+key)
			}
			r, err := c.Introspect(ctx, req)
			if err != nil {
				return false, "", "", nil, err
			}
			var limit *int
			if r.Msg.MachineLimit != nil {
				n := int(*r.Msg.MachineLimit)
				limit = &n
			}
			return r.Msg.Active, r.Msg.Sub, strings.ToLower(strings.TrimPrefix(r.Msg.Tier.String(), "TIER_")), limit, nil
		}
	}
	rest := func(ctx context.Context, key, token string) (bool, string, string, *int, error) {
		body, _ := json.Marshal(map[string]string{"token": token})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/auth/introspect", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, "", "", nil, err
		}
		defer res.Body.Close()
		var env struct {
			OK   bool   `json:"ok"`
			Code string `json:"code"`
			Data struct {
				Active       bool   `json:"active"`
				Sub          string `json:"sub"`
				Tier         string `json:"tier"`
				MachineLimit *int   `json:"machineLimit"`
			} `json:"data"`
		}
		_ = json.NewDecoder(res.Body).Decode(&env)
		if !env.OK {
			return false, "", "", nil, errors.New(env.Code)
		}
		return env.Data.Active, env.Data.Sub, env.Data.Tier, env.Data.MachineLimit, nil
	}
	return map[string]introspector{
		"rest":     rest,
		"connect":  rpc(authv1connect.NewAuthServiceClient(http.DefaultClient, base)),
		"grpc":     rpc(authv1connect.NewAuthServiceClient(h2cClient(), base, connect.WithGRPC())),
		"grpc-web": rpc(authv1connect.NewAuthServiceClient(http.DefaultClient, base, connect.WithGRPCWeb())),
	}
}

func reasonOrCode(err error) string {
	if r := reasonOf(err); !strings.HasPrefix(r, "transport: ") {
		return r
	}
	return err.Error()
}

func TestIntrospectionNeedsAServiceKeyAndTellsLiveFromDead(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		_, a := startWithMail(t, dbURL, "")
		base := startH2C(t, a)
		ctx := context.Background()
		key, _, err := a.auth.CreateServiceKey(ctx, "threat-cloud")
		if err != nil {
			t.Fatal(err)
		}
		d := drivers(t, base)["connect"]
		for name, introspect := range introspectors(base) {
			t.Run(name, func(t *testing.T) {
				tok, err := d.register(ctx, "intro-"+name+"@example.com", "I", "password1")
				if err != nil {
					t.Fatal(err)
				}
				me, _ := a.auth.Authenticate(ctx, tok)
				// Without a valid service key: 401, and nothing about the token.
				for _, bad := range []string{"", "psk_0000", tok, "psk_" + strings.Repeat("a", 64)} {
					if _, _, _, _, err := introspect(ctx, bad, tok); reasonOrCode(err) != "unauthenticated" {
						t.Fatalf("key %q: %v", bad, err)
					}
					if _, _, _, _, err := introspect(ctx, bad, "garbage"); reasonOrCode(err) != "unauthenticated" {
						t.Fatalf("key %q with a garbage token: %v", bad, err)
					}
				}
				active, sub, tier, limit, err := introspect(ctx, key, tok)
				if err != nil || !active || sub != me.UserID || tier != "solo" || limit == nil || *limit != 3 {
					t.Fatalf("live token: %v %q %q %v %v", active, sub, tier, limit, err)
				}
				for _, dead := range []string{"", "garbage", tok[:len(tok)-4] + "AAAA"} {
					if active, _, _, _, err := introspect(ctx, key, dead); err != nil || active {
						t.Fatalf("token %q: active %v, %v", dead, active, err)
					}
				}
				if err := d.logout(ctx, tok); err != nil {
					t.Fatal(err)
				}
				if active, sub, _, _, err := introspect(ctx, key, tok); err != nil || active || sub != "" {
					t.Fatalf("revoked token: active %v sub %q %v", active, sub, err)
				}
			})
		}
		if err := a.auth.RevokeServiceKey(ctx, "threat-cloud"); err != nil {
			t.Fatal(err)
		}
	})
}
