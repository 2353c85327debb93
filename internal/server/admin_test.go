package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/oathtest"
	"panguard.ai/auth/internal/storetest"
	"panguard.ai/auth/sdk"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// adminView is what the admin tests read of an account, from any transport.
type adminView struct {
	id, email, tier string
	suspended, totp bool
	machineLimit    *int
	planExpiresAt   *time.Time
	sessions        int
}

// adminDriver is one way of calling the admin plane; the admin tests run through each.
type adminDriver interface {
	listUsers(ctx context.Context, tok, query, tier string) ([]adminView, error)
	getUser(ctx context.Context, tok, id string) (adminView, error)
	setPlan(ctx context.Context, tok, id, tier string, end *time.Time) (adminView, error)
	suspendUser(ctx context.Context, tok, id, reason string) (adminView, error)
	unsuspendUser(ctx context.Context, tok, id string) (adminView, error)
	revokeUserSessions(ctx context.Context, tok, id string) (int, error)
	resetUserTotp(ctx context.Context, tok, id, reason string) (adminView, error)
	deleteUser(ctx context.Context, tok, id string) error
	listAudit(ctx context.Context, tok, userID, typ string) ([]auth.Event, error)
}

type sdkAdmin struct{ c *sdk.Client }

func fromSDK(u *sdk.AdminUser, err error) (adminView, error) {
	if err != nil {
		return adminView{}, err
	}
	return adminView{id: u.ID, email: u.Email, tier: u.Tier, suspended: u.Suspended, totp: u.TOTPEnabled, machineLimit: u.MachineLimit, planExpiresAt: u.PlanExpiresAt, sessions: u.SessionCount}, nil
}

func (d sdkAdmin) listUsers(ctx context.Context, tok, query, tier string) ([]adminView, error) {
	p, err := d.c.WithToken(tok).Admin().ListUsers(ctx, sdk.UserQuery{Query: query, Tier: tier})
	if err != nil {
		return nil, err
	}
	out := make([]adminView, len(p.Users))
	for i := range p.Users {
		out[i], _ = fromSDK(&p.Users[i], nil)
	}
	return out, nil
}
func (d sdkAdmin) getUser(ctx context.Context, tok, id string) (adminView, error) {
	return fromSDK(d.c.WithToken(tok).Admin().GetUser(ctx, id))
}
func (d sdkAdmin) setPlan(ctx context.Context, tok, id, tier string, end *time.Time) (adminView, error) {
	return fromSDK(d.c.WithToken(tok).Admin().SetPlan(ctx, id, tier, end))
}
func (d sdkAdmin) suspendUser(ctx context.Context, tok, id, reason string) (adminView, error) {
	return fromSDK(d.c.WithToken(tok).Admin().SuspendUser(ctx, id, reason))
}
func (d sdkAdmin) unsuspendUser(ctx context.Context, tok, id string) (adminView, error) {
	return fromSDK(d.c.WithToken(tok).Admin().UnsuspendUser(ctx, id))
}
func (d sdkAdmin) revokeUserSessions(ctx context.Context, tok, id string) (int, error) {
	return d.c.WithToken(tok).Admin().RevokeUserSessions(ctx, id)
}
func (d sdkAdmin) resetUserTotp(ctx context.Context, tok, id, reason string) (adminView, error) {
	return fromSDK(d.c.WithToken(tok).Admin().ResetUserTotp(ctx, id, reason))
}
func (d sdkAdmin) deleteUser(ctx context.Context, tok, id string) error {
	return d.c.WithToken(tok).Admin().DeleteUser(ctx, id)
}
func (d sdkAdmin) listAudit(ctx context.Context, tok, userID, typ string) ([]auth.Event, error) {
	p, err := d.c.WithToken(tok).Admin().ListAudit(ctx, sdk.AuditQuery{UserID: userID, Type: typ})
	if err != nil {
		return nil, err
	}
	out := make([]auth.Event, len(p.Events))
	for i, e := range p.Events {
		out[i] = auth.Event{ID: e.ID, UserID: e.UserID, Type: e.Type, Actor: e.Actor}
	}
	return out, nil
}

type rpcAdmin struct {
	c authv1connect.AdminServiceClient
}

func fromRPC(u *authv1.AdminUser) adminView {
	v := adminView{id: u.User.Id, email: u.User.Email, tier: strings.ToLower(strings.TrimPrefix(u.User.Tier.String(), "TIER_")),
		suspended: u.Suspended, totp: u.User.TotpEnabled, sessions: -1}
	if u.User.MachineLimit != nil {
		n := int(*u.User.MachineLimit)
		v.machineLimit = &n
	}
	if u.User.PlanExpiresAt != nil {
		t := u.User.PlanExpiresAt.AsTime()
		v.planExpiresAt = &t
	}
	if u.SessionCount != nil {
		v.sessions = int(*u.SessionCount)
	}
	return v
}

func rpcTier(name string) authv1.Tier {
	if name == "" {
		return authv1.Tier_TIER_UNSPECIFIED
	}
	if v, ok := authv1.Tier_value["TIER_"+strings.ToUpper(name)]; ok {
		return authv1.Tier(v)
	}
	return authv1.Tier(99)
}

func (d rpcAdmin) listUsers(ctx context.Context, tok, query, tier string) ([]adminView, error) {
	r, err := d.c.ListUsers(ctx, authed(&authv1.ListUsersRequest{Query: query, Tier: rpcTier(tier)}, tok))
	if err != nil {
		return nil, err
	}
	out := make([]adminView, len(r.Msg.Users))
	for i, u := range r.Msg.Users {
		out[i] = fromRPC(u)
	}
	return out, nil
}
func (d rpcAdmin) getUser(ctx context.Context, tok, id string) (adminView, error) {
	r, err := d.c.GetUser(ctx, authed(&authv1.GetUserRequest{UserId: id}, tok))
	if err != nil {
		return adminView{}, err
	}
	return fromRPC(r.Msg.User), nil
}
func (d rpcAdmin) setPlan(ctx context.Context, tok, id, tier string, end *time.Time) (adminView, error) {
	req := &authv1.SetPlanRequest{UserId: id, Tier: rpcTier(tier)}
	if end != nil {
		req.PlanExpiresAt = timestamppb.New(*end)
	}
	r, err := d.c.SetPlan(ctx, authed(req, tok))
	if err != nil {
		return adminView{}, err
	}
	return fromRPC(r.Msg.User), nil
}
func (d rpcAdmin) suspendUser(ctx context.Context, tok, id, reason string) (adminView, error) {
	r, err := d.c.SuspendUser(ctx, authed(&authv1.SuspendUserRequest{UserId: id, Reason: reason}, tok))
	if err != nil {
		return adminView{}, err
	}
	return fromRPC(r.Msg.User), nil
}
func (d rpcAdmin) unsuspendUser(ctx context.Context, tok, id string) (adminView, error) {
	r, err := d.c.UnsuspendUser(ctx, authed(&authv1.UnsuspendUserRequest{UserId: id}, tok))
	if err != nil {
		return adminView{}, err
	}
	return fromRPC(r.Msg.User), nil
}
func (d rpcAdmin) revokeUserSessions(ctx context.Context, tok, id string) (int, error) {
	r, err := d.c.RevokeUserSessions(ctx, authed(&authv1.RevokeUserSessionsRequest{UserId: id}, tok))
	if err != nil {
		return 0, err
	}
	return int(r.Msg.Revoked), nil
}
func (d rpcAdmin) resetUserTotp(ctx context.Context, tok, id, reason string) (adminView, error) {
	r, err := d.c.ResetUserTotp(ctx, authed(&authv1.ResetUserTotpRequest{UserId: id, Reason: reason}, tok))
	if err != nil {
		return adminView{}, err
	}
	return fromRPC(r.Msg.User), nil
}
func (d rpcAdmin) deleteUser(ctx context.Context, tok, id string) error {
	_, err := d.c.DeleteUser(ctx, authed(&authv1.DeleteUserRequest{UserId: id}, tok))
	return err
}
func (d rpcAdmin) listAudit(ctx context.Context, tok, userID, typ string) ([]auth.Event, error) {
	r, err := d.c.ListAudit(ctx, authed(&authv1.ListAuditRequest{UserId: userID, Type: typ}, tok))
	if err != nil {
		return nil, err
	}
	out := make([]auth.Event, len(r.Msg.Events))
	for i, e := range r.Msg.Events {
		out[i] = auth.Event{ID: e.Id, UserID: e.UserId, Type: e.Type, Actor: e.Actor}
	}
	return out, nil
}

func adminDrivers(t *testing.T, base string) map[string]adminDriver {
	c, err := sdk.New(base)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]adminDriver{
		"rest-sdk": sdkAdmin{c},
		"connect":  rpcAdmin{authv1connect.NewAdminServiceClient(http.DefaultClient, base)},
		"grpc":     rpcAdmin{authv1connect.NewAdminServiceClient(h2cClient(), base, connect.WithGRPC())},
		"grpc-web": rpcAdmin{authv1connect.NewAdminServiceClient(http.DefaultClient, base, connect.WithGRPCWeb())},
	}
}

// wantReason fails unless err carries reason and, on Connect, code (or, on REST, status).
func wantReason(t *testing.T, what string, err error, reason string, status int) {
	t.Helper()
	if got := reasonOf(err); got != reason {
		t.Fatalf("%s: reason %q (%v), want %q", what, got, err, reason)
	}
	want := errorTable[kindOfStatus(status)]
	var se *sdk.Error
	var ce *connect.Error
	switch {
	case errors.As(err, &se) && se.Status != want.status:
		t.Fatalf("%s: status %d, want %d", what, se.Status, want.status)
	case errors.As(err, &ce) && ce.Code() != want.connect:
		t.Fatalf("%s: code %v, want %v", what, ce.Code(), want.connect)
	}
}

func kindOfStatus(status int) auth.Kind {
	for k, m := range errorTable {
		if m.status == status {
			return k
		}
	}
	return auth.KindInternal
}

func TestNonAdminsAreRefusedEveryAdminOperationOnEveryProtocol(t *testing.T) {
	t.Parallel()
	_, a := startWithMail(t, storetest.SQLiteURL(t), "")
	base := startH2C(t, a)
	ctx := context.Background()
	d := drivers(t, base)["connect"]
	userTok, err := d.register(ctx, "plain@example.com", "Plain", "password1")
	if err != nil {
		t.Fatal(err)
	}
	targetTok, _ := d.register(ctx, "target@example.com", "Target", "password1")
	target, _ := a.auth.Authenticate(ctx, targetTok)
	for name, ad := range adminDrivers(t, base) {
		t.Run(name, func(t *testing.T) {
			id := target.UserID
			calls := map[string]func(tok string) error{
				"listUsers":          func(tok string) error { _, err := ad.listUsers(ctx, tok, "", ""); return err },
				"getUser":            func(tok string) error { _, err := ad.getUser(ctx, tok, id); return err },
				"setPlan":            func(tok string) error { _, err := ad.setPlan(ctx, tok, id, "pro", nil); return err },
				"suspendUser":        func(tok string) error { _, err := ad.suspendUser(ctx, tok, id, "spam"); return err },
				"unsuspendUser":      func(tok string) error { _, err := ad.unsuspendUser(ctx, tok, id); return err },
				"revokeUserSessions": func(tok string) error { _, err := ad.revokeUserSessions(ctx, tok, id); return err },
				"resetUserTotp":      func(tok string) error { _, err := ad.resetUserTotp(ctx, tok, id, "lost phone"); return err },
				"deleteUser":         func(tok string) error { return ad.deleteUser(ctx, tok, id) },
				"listAudit":          func(tok string) error { _, err := ad.listAudit(ctx, tok, "", ""); return err },
			}
			for op, call := range calls {
				wantReason(t, op+" as a user", call(userTok), "forbidden", http.StatusForbidden)
				wantReason(t, op+" without a token", call(""), "unauthenticated", http.StatusUnauthorized)
			}
		})
	}
	// Nothing happened to the target.
	if _, err := a.auth.Authenticate(ctx, targetTok); err != nil {
		t.Fatalf("target's session: %v", err)
	}
}

func TestAdminJourneyOverEveryProtocol(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		_, a := startWithMail(t, dbURL, "")
		base := startH2C(t, a)
		ctx := context.Background()
		for name, ad := range adminDrivers(t, base) {
			t.Run(name, func(t *testing.T) {
				d := drivers(t, base)[name]
				adminEmail, userEmail := "admin-"+name+"@example.com", "user-"+name+"@example.com"
				if _, err := d.register(ctx, adminEmail, "Ada Admin", "password1"); err != nil {
					t.Fatal(err)
				}
				if _, err := a.auth.SetRole(ctx, adminEmail, auth.RoleAdmin); err != nil {
					t.Fatal(err)
				}
				adminTok, err := d.login(ctx, adminEmail, "password1", "", "")
				if err != nil {
					t.Fatal(err)
				}
				userTok, err := d.register(ctx, userEmail, "Uma "+name+" User", "password1")
				if err != nil {
					t.Fatal(err)
				}
				// Search finds the user by a piece of the name, case-insensitively.
				found, err := ad.listUsers(ctx, adminTok, "UMA "+strings.ToUpper(name)+" u", "")
				if err != nil || len(found) != 1 || found[0].email != userEmail || found[0].sessions != -1 {
					t.Fatalf("search: %+v %v", found, err)
				}
				id := found[0].id
				_, err = ad.listUsers(ctx, adminTok, "", "gold")
				wantReason(t, "unknown tier", err, "validation_failed", http.StatusBadRequest)
				_, err = ad.getUser(ctx, adminTok, "usr_../../etc")
				wantReason(t, "malformed id", err, "validation_failed", http.StatusBadRequest)
				_, err = ad.getUser(ctx, adminTok, "usr_000000000000000000000000")
				wantReason(t, "unknown id", err, "not_found", http.StatusNotFound)

				// A plan shows in the user's own `me` at once.
				end := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Millisecond)
				_, err = ad.setPlan(ctx, adminTok, id, "pro", ptr(time.Now().Add(-time.Minute)))
				wantReason(t, "plan ending in the past", err, "validation_failed", http.StatusBadRequest)
				v, err := ad.setPlan(ctx, adminTok, id, "pro", &end)
				if err != nil || v.tier != "pro" || *v.machineLimit != 10 || v.planExpiresAt == nil || !v.planExpiresAt.Equal(end) {
					t.Fatalf("plan: %+v %v", v, err)
				}
				me, err := a.auth.Authenticate(ctx, userTok)
				if err != nil {
					t.Fatal(err)
				}
				if p, _ := a.auth.Me(ctx, me); p.Tier != auth.TierPro || *p.MachineLimit != 10 || p.TrialEndsAt != nil {
					t.Fatalf("me after plan: %+v", p)
				}

				// Suspension: the token dies, the password gets 403, the admin cannot suspend themselves.
				_, err = ad.suspendUser(ctx, adminTok, id, strings.Repeat("x", 501))
				wantReason(t, "long reason", err, "validation_failed", http.StatusBadRequest)
				adminID := mustAdminID(t, a, adminTok)
				_, err = ad.suspendUser(ctx, adminTok, adminID, "oops")
				wantReason(t, "self-suspend", err, "conflict", http.StatusConflict)
				if v, err = ad.suspendUser(ctx, adminTok, id, "spam from this account"); err != nil || !v.suspended {
					t.Fatalf("suspend: %+v %v", v, err)
				}
				_, _, err = d.me(ctx, userTok)
				wantReason(t, "suspended token", err, "unauthenticated", http.StatusUnauthorized)
				_, err = d.login(ctx, userEmail, "password1", "", "")
				wantReason(t, "suspended login", err, "account_suspended", http.StatusForbidden)
				if v, err = ad.unsuspendUser(ctx, adminTok, id); err != nil || v.suspended {
					t.Fatalf("unsuspend: %+v %v", v, err)
				}
				userTok, err = d.login(ctx, userEmail, "password1", "", "")
				if err != nil {
					t.Fatalf("login after unsuspend: %v", err)
				}

				// A lost phone: the admin removes the second factor.
				secret, _, err := d.setupTotp(ctx, userTok)
				if err != nil {
					t.Fatal(err)
				}
				code, _ := oathtest.TOTP(secret, time.Now(), 0)
				if err := d.verifyTotp(ctx, userTok, code); err != nil {
					t.Fatal(err)
				}
				if v, err = ad.resetUserTotp(ctx, adminTok, id, "lost phone"); err != nil || v.totp {
					t.Fatalf("reset 2FA: %+v %v", v, err)
				}
				if _, err = d.login(ctx, userEmail, "password1", "", ""); err != nil {
					t.Fatalf("login after the 2FA reset: %v", err)
				}
				if v, err = ad.getUser(ctx, adminTok, id); err != nil || v.sessions != 2 { // the login after unsuspending, and the one after the reset
					t.Fatalf("sessions: %+v %v", v, err)
				}
				if n, err := ad.revokeUserSessions(ctx, adminTok, id); err != nil || n != 2 {
					t.Fatalf("revoked %d %v", n, err)
				}

				// The audit shows every step with the admin's id.
				events, err := ad.listAudit(ctx, adminTok, id, "")
				if err != nil {
					t.Fatal(err)
				}
				byAdmin := map[string]bool{}
				for _, e := range events {
					if e.UserID != id {
						t.Fatalf("event of %s in the audit of %s", e.UserID, id)
					}
					if e.Actor == auth.ActorAdmin(adminID) {
						byAdmin[e.Type] = true
					}
				}
				for _, typ := range []string{"plan_changed", "suspended", "unsuspended", "totp_reset_by_admin", "sessions_revoked_by_admin"} {
					if !byAdmin[typ] {
						t.Errorf("no %s by the admin in %+v", typ, events)
					}
				}
				_, err = ad.listAudit(ctx, adminTok, "", "not_a_type")
				wantReason(t, "unknown type", err, "validation_failed", http.StatusBadRequest)

				err = ad.deleteUser(ctx, adminTok, adminID)
				wantReason(t, "self-delete", err, "conflict", http.StatusConflict)
				if err := ad.deleteUser(ctx, adminTok, id); err != nil {
					t.Fatal(err)
				}
				_, err = ad.getUser(ctx, adminTok, id)
				wantReason(t, "deleted user", err, "not_found", http.StatusNotFound)
			})
		}
	})
}

func mustAdminID(t *testing.T, a *Server, tok string) string {
	t.Helper()
	p, err := a.auth.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return p.UserID
}

func TestAPlanEndThatIsNotRFC3339SaysSo(t *testing.T) {
	t.Parallel()
	srv, _ := startServer(t, storetest.SQLiteURL(t))
	for _, body := range []string{`{"tier":"pro","planExpiresAt":"2027-12-31"}`, `{"tier":"pro","planExpiresAt":1767225600}`} {
		status, env, _ := rawCall(t, "POST", srv.URL+"/api/admin/users/usr_000000000000000000000000/plan", "application/json", body, "Authorization", "Bearer x")
		if status != 400 || env["code"] != "invalid_json" || !strings.Contains(env["error"].(string), "RFC 3339") {
			t.Fatalf("%s: %d %v", body, status, env)
		}
	}
}
