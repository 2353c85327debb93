package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/rs/cors"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"panguard.ai/auth/internal/auth"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// errorDomain is the ErrorInfo domain of every error detail.
const errorDomain = "auth.panguard.ai"

// connectServer is the Connect adapter: like restServer, each method decodes, calls one
// domain method and encodes; errors become Connect errors through errorTable.
type connectServer struct {
	auth    *auth.Service
	cookies sessionCookies
}

var _ authv1connect.AuthServiceHandler = (*connectServer)(nil)

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

var tiers = map[auth.Tier]authv1.Tier{
	auth.TierCommunity: authv1.Tier_TIER_COMMUNITY, auth.TierSolo: authv1.Tier_TIER_SOLO, auth.TierPro: authv1.Tier_TIER_PRO,
	auth.TierBusiness: authv1.Tier_TIER_BUSINESS, auth.TierEnterprise: authv1.Tier_TIER_ENTERPRISE,
}

// rpcUser is the one RPC encoding of an account.
func rpcUser(p auth.Profile) *authv1.User {
	u := &authv1.User{
		Id: p.ID, Email: p.Email, Name: p.Name, Tier: tiers[p.Tier], TotpEnabled: p.TOTPEnabled,
		TrialEndsAt: ts(p.TrialEndsAt), CreatedAt: timestamppb.New(p.CreatedAt), UpdatedAt: timestamppb.New(p.UpdatedAt),
	}
	if p.MachineLimit != nil {
		n := int32(*p.MachineLimit)
		u.MachineLimit = &n // absent: unlimited
	}
	u.EmailVerified, u.Role, u.PlanExpiresAt = p.EmailVerified, string(p.Role), ts(p.PlanExpiresAt)
	return u
}

// rpcSessions is the one RPC encoding of sessions.
func rpcSessions(vs []auth.SessionView) []*authv1.Session {
	out := make([]*authv1.Session, len(vs))
	for i, v := range vs {
		out[i] = &authv1.Session{
			Id: v.ID, CreatedAt: timestamppb.New(v.CreatedAt), LastSeenAt: timestamppb.New(v.LastSeenAt),
			ExpiresAt: timestamppb.New(v.ExpiresAt), Ip: v.IP, UserAgent: v.UserAgent, Current: v.Current, Method: string(v.Method),
		}
	}
	return out
}

// rpcEvents is the one RPC encoding of activity events; the detail travels as a JSON object.
func rpcEvents(es []auth.Event) []*authv1.ActivityEvent {
	out := make([]*authv1.ActivityEvent, len(es))
	for i, e := range es {
		out[i] = &authv1.ActivityEvent{Id: e.ID, Type: e.Type, At: timestamppb.New(e.At), Ip: e.IP, UserAgent: e.UserAgent, Actor: e.Actor}
		if len(e.Detail) > 0 {
			b, _ := json.Marshal(e.Detail) // a map of strings always encodes
			out[i].DetailJson = string(b)
		}
	}
	return out
}

// Register implements RPC Register.
func (s *connectServer) Register(ctx context.Context, req *connect.Request[authv1.RegisterRequest]) (*connect.Response[authv1.RegisterResponse], error) {
	m := req.Msg
	res, err := s.auth.Register(ctx, auth.RegisterInput{Email: m.Email, Name: m.Name, Password: m.Password})
	if err != nil {
		return nil, err
	}
	if !res.Created {
		return connect.NewResponse(&authv1.RegisterResponse{Message: res.Message}), nil
	}
	out := connect.NewResponse(&authv1.RegisterResponse{
		Created: true, User: rpcUser(res.User), Token: res.Token, ExpiresAt: timestamppb.New(res.ExpiresAt),
	})
	if s.cookies.wanted(req) {
		s.cookies.set(out.Header(), res.Token, res.ExpiresAt)
		out.Msg.Token = ""
	}
	return out, nil
}

// Login implements RPC Login.
func (s *connectServer) Login(ctx context.Context, req *connect.Request[authv1.LoginRequest]) (*connect.Response[authv1.LoginResponse], error) {
	m := req.Msg
	res, err := s.auth.Login(ctx, auth.LoginInput{Email: m.Email, Password: m.Password, TOTPCode: m.TotpCode, BackupCode: m.BackupCode})
	if err != nil {
		return nil, err
	}
	if res.TOTPRequired {
		return connect.NewResponse(&authv1.LoginResponse{TotpRequired: true}), nil
	}
	out := connect.NewResponse(&authv1.LoginResponse{User: rpcUser(res.User), Token: res.Token, ExpiresAt: timestamppb.New(res.ExpiresAt)})
	if s.cookies.wanted(req) {
		// The dashboard's sign-in: the token goes only into the HttpOnly cookie.
		s.cookies.set(out.Header(), res.Token, res.ExpiresAt)
		out.Msg.Token = ""
	}
	return out, nil
}

// Logout implements RPC Logout.
func (s *connectServer) Logout(ctx context.Context, req *connect.Request[authv1.LogoutRequest]) (*connect.Response[authv1.LogoutResponse], error) {
	if err := s.auth.Logout(ctx, principal(ctx)); err != nil {
		return nil, err
	}
	out := connect.NewResponse(&authv1.LogoutResponse{Message: auth.MsgLoggedOut})
	if s.cookies.token(req.Header()) != "" {
		s.cookies.clear(out.Header())
	}
	return out, nil
}

// Me implements RPC Me.
func (s *connectServer) Me(ctx context.Context, req *connect.Request[authv1.MeRequest]) (*connect.Response[authv1.MeResponse], error) {
	p, err := s.auth.Me(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.MeResponse{User: rpcUser(p)}), nil
}

// ForgotPassword implements RPC ForgotPassword.
func (s *connectServer) ForgotPassword(ctx context.Context, req *connect.Request[authv1.ForgotPasswordRequest]) (*connect.Response[authv1.ForgotPasswordResponse], error) {
	if err := s.auth.ForgotPassword(ctx, req.Msg.Email); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ForgotPasswordResponse{Message: auth.MsgForgotPassword}), nil
}

// ResetPassword implements RPC ResetPassword.
func (s *connectServer) ResetPassword(ctx context.Context, req *connect.Request[authv1.ResetPasswordRequest]) (*connect.Response[authv1.ResetPasswordResponse], error) {
	if err := s.auth.ResetPassword(ctx, req.Msg.Token, req.Msg.NewPassword); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ResetPasswordResponse{Message: auth.MsgPasswordReset}), nil
}

// SetupTotp implements RPC SetupTotp.
func (s *connectServer) SetupTotp(ctx context.Context, req *connect.Request[authv1.SetupTotpRequest]) (*connect.Response[authv1.SetupTotpResponse], error) {
	r, err := s.auth.SetupTOTP(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.SetupTotpResponse{Secret: r.Secret, OtpauthUrl: r.OTPAuthURL, BackupCodes: r.BackupCodes}), nil
}

// VerifyTotp implements RPC VerifyTotp.
func (s *connectServer) VerifyTotp(ctx context.Context, req *connect.Request[authv1.VerifyTotpRequest]) (*connect.Response[authv1.VerifyTotpResponse], error) {
	if err := s.auth.VerifyTOTP(ctx, principal(ctx), req.Msg.TotpCode); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.VerifyTotpResponse{Message: auth.MsgTOTPEnabled}), nil
}

// DisableTotp implements RPC DisableTotp.
func (s *connectServer) DisableTotp(ctx context.Context, req *connect.Request[authv1.DisableTotpRequest]) (*connect.Response[authv1.DisableTotpResponse], error) {
	if err := s.auth.DisableTOTP(ctx, principal(ctx), reauth(req.Msg.Password, req.Msg.TotpCode, req.Msg.BackupCode)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.DisableTotpResponse{Message: auth.MsgTOTPDisabled}), nil
}

// GetTotpStatus implements RPC GetTotpStatus.
func (s *connectServer) GetTotpStatus(ctx context.Context, req *connect.Request[authv1.GetTotpStatusRequest]) (*connect.Response[authv1.GetTotpStatusResponse], error) {
	st, err := s.auth.TOTPStatus(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.GetTotpStatusResponse{Enabled: st.Enabled, Pending: st.Pending, BackupCodesRemaining: int32(st.BackupCodesRemaining)}), nil
}

// RegenerateBackupCodes implements RPC RegenerateBackupCodes.
func (s *connectServer) RegenerateBackupCodes(ctx context.Context, req *connect.Request[authv1.RegenerateBackupCodesRequest]) (*connect.Response[authv1.RegenerateBackupCodesResponse], error) {
	codes, err := s.auth.RegenerateBackupCodes(ctx, principal(ctx), reauth(req.Msg.Password, req.Msg.TotpCode, req.Msg.BackupCode))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.RegenerateBackupCodesResponse{BackupCodes: codes}), nil
}

// ListSessions implements RPC ListSessions.
func (s *connectServer) ListSessions(ctx context.Context, _ *connect.Request[authv1.ListSessionsRequest]) (*connect.Response[authv1.ListSessionsResponse], error) {
	vs, err := s.auth.ListSessions(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ListSessionsResponse{Sessions: rpcSessions(vs)}), nil
}

// RevokeSession implements RPC RevokeSession.
func (s *connectServer) RevokeSession(ctx context.Context, req *connect.Request[authv1.RevokeSessionRequest]) (*connect.Response[authv1.RevokeSessionResponse], error) {
	if err := s.auth.RevokeSession(ctx, principal(ctx), req.Msg.Id); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.RevokeSessionResponse{Message: auth.MsgSessionRevoked}), nil
}

// RevokeOtherSessions implements RPC RevokeOtherSessions.
func (s *connectServer) RevokeOtherSessions(ctx context.Context, _ *connect.Request[authv1.RevokeOtherSessionsRequest]) (*connect.Response[authv1.RevokeOtherSessionsResponse], error) {
	n, err := s.auth.RevokeOtherSessions(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.RevokeOtherSessionsResponse{Revoked: int32(n)}), nil
}

// UpdateMe implements RPC UpdateMe.
func (s *connectServer) UpdateMe(ctx context.Context, req *connect.Request[authv1.UpdateMeRequest]) (*connect.Response[authv1.UpdateMeResponse], error) {
	p, err := s.auth.UpdateMe(ctx, principal(ctx), req.Msg.Name)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.UpdateMeResponse{User: rpcUser(p)}), nil
}

// ChangePassword implements RPC ChangePassword.
func (s *connectServer) ChangePassword(ctx context.Context, req *connect.Request[authv1.ChangePasswordRequest]) (*connect.Response[authv1.ChangePasswordResponse], error) {
	m := req.Msg
	in := auth.ChangePasswordInput{NewPassword: m.NewPassword, Reauth: reauth(m.CurrentPassword, m.TotpCode, m.BackupCode)}
	if err := s.auth.ChangePassword(ctx, principal(ctx), in); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ChangePasswordResponse{Message: auth.MsgPasswordChanged}), nil
}

// ChangeEmail implements RPC ChangeEmail.
func (s *connectServer) ChangeEmail(ctx context.Context, req *connect.Request[authv1.ChangeEmailRequest]) (*connect.Response[authv1.ChangeEmailResponse], error) {
	m := req.Msg
	in := auth.ChangeEmailInput{NewEmail: m.NewEmail, Reauth: reauth(m.Password, m.TotpCode, m.BackupCode)}
	if err := s.auth.ChangeEmail(ctx, principal(ctx), in); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ChangeEmailResponse{Message: auth.MsgEmailChangeRequested}), nil
}

// ConfirmEmail implements RPC ConfirmEmail.
func (s *connectServer) ConfirmEmail(ctx context.Context, req *connect.Request[authv1.ConfirmEmailRequest]) (*connect.Response[authv1.ConfirmEmailResponse], error) {
	p, err := s.auth.ConfirmEmail(ctx, req.Msg.Token)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ConfirmEmailResponse{User: rpcUser(p)}), nil
}

// VerifyEmail implements RPC VerifyEmail.
func (s *connectServer) VerifyEmail(ctx context.Context, req *connect.Request[authv1.VerifyEmailRequest]) (*connect.Response[authv1.VerifyEmailResponse], error) {
	if err := s.auth.VerifyEmail(ctx, req.Msg.Token); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.VerifyEmailResponse{Message: auth.MsgEmailVerified}), nil
}

// ResendVerification implements RPC ResendVerification.
func (s *connectServer) ResendVerification(ctx context.Context, _ *connect.Request[authv1.ResendVerificationRequest]) (*connect.Response[authv1.ResendVerificationResponse], error) {
	if err := s.auth.ResendVerification(ctx, principal(ctx)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ResendVerificationResponse{Message: auth.MsgVerificationResent}), nil
}

// ListActivity implements RPC ListActivity.
func (s *connectServer) ListActivity(ctx context.Context, req *connect.Request[authv1.ListActivityRequest]) (*connect.Response[authv1.ListActivityResponse], error) {
	q := auth.ActivityQuery{Before: req.Msg.Before, Limit: limitOf(req.Msg.Limit)}
	page, err := s.auth.ListActivity(ctx, principal(ctx), q)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ListActivityResponse{Events: rpcEvents(page.Events), NextCursor: page.NextCursor}), nil
}

// limitOf is an RPC page size as the domain takes it (nil: the default).
func limitOf(n *int32) *int {
	if n == nil {
		return nil
	}
	v := int(*n)
	return &v
}

// ExportAccount implements RPC ExportAccount.
func (s *connectServer) ExportAccount(ctx context.Context, _ *connect.Request[authv1.ExportAccountRequest]) (*connect.Response[authv1.ExportAccountResponse], error) {
	x, err := s.auth.ExportAccount(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	passkeys := make([]*authv1.Passkey, len(x.Passkeys))
	for i, pk := range x.Passkeys {
		passkeys[i] = &authv1.Passkey{Id: pk.ID, Name: pk.Name, CreatedAt: timestamppb.New(pk.CreatedAt), LastUsedAt: ts(pk.LastUsedAt)}
	}
	return connect.NewResponse(&authv1.ExportAccountResponse{
		ExportedAt: timestamppb.New(x.ExportedAt), User: rpcUser(x.User), Sessions: rpcSessions(x.Sessions),
		Activity: rpcEvents(x.Activity), TwoFactorEnabled: x.TwoFactor.Enabled,
		BackupCodesRemaining: int32(x.TwoFactor.BackupCodesRemaining), Passkeys: passkeys,
	}), nil
}

// DeleteAccount implements RPC DeleteAccount.
func (s *connectServer) DeleteAccount(ctx context.Context, req *connect.Request[authv1.DeleteAccountRequest]) (*connect.Response[authv1.DeleteAccountResponse], error) {
	m := req.Msg
	if err := s.auth.DeleteAccount(ctx, principal(ctx), reauth(m.Password, m.TotpCode, m.BackupCode)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.DeleteAccountResponse{Message: auth.MsgAccountDeleted}), nil
}

// errorInterceptor turns every error a handler returns into a Connect error through
// errorTable, with the stable reason as a google.rpc.ErrorInfo detail (and RetryInfo when
// known). Errors connect-go made itself (bad encoding, too large) pass unchanged.
func errorInterceptor(log *slog.Logger, mt *metrics) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			if err == nil {
				return res, nil
			}
			var ce *connect.Error
			if errors.As(err, &ce) {
				return nil, err
			}
			e, m := publicError(ctx, log, err)
			proc := req.Spec().Procedure
			mt.failures.WithLabelValues(proc[strings.LastIndexByte(proc, '/')+1:], string(e.Code)).Inc()
			cerr := connect.NewError(m.connect, errors.New(e.Message))
			if d, derr := connect.NewErrorDetail(&errdetails.ErrorInfo{Reason: string(e.Code), Domain: errorDomain}); derr == nil {
				cerr.AddDetail(d)
			}
			if e.RetryAfter > 0 {
				secs := time.Duration(math.Ceil(e.RetryAfter.Seconds())) * time.Second
				if d, derr := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(secs)}); derr == nil {
					cerr.AddDetail(d)
				}
			}
			return nil, cerr
		}
	}
}

// connectHandlers mounts the Connect/gRPC/gRPC-web service, reflection and health on mux.
// Every RPC handler is built with the one rpcHandlerOptions value and mounted through
// capRPCBody, so each has the same size limits and error texts.
// Browser origins in corsOrigins get CORS on the RPC paths; no other origin does.
func connectHandlers(a *auth.Service, mux *http.ServeMux, secured map[string]string, log *slog.Logger, mt *metrics, corsOrigins []string, cookies sessionCookies) {
	shared := rpcHandlerOptions()
	mount := func(path string, h http.Handler) { mux.Handle(path, capRPCBody(h)) }
	interceptors := connect.WithInterceptors(rpcMetrics(mt), errorInterceptor(log, mt), authenticateRPC(a, secured, cookies))
	withCORS := func(h http.Handler) http.Handler {
		if len(corsOrigins) == 0 {
			return h
		}
		return cors.New(cors.Options{
			AllowedOrigins: corsOrigins,
			AllowedMethods: connectcors.AllowedMethods(),
			AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization", sessionCookieHeader),
			ExposedHeaders: connectcors.ExposedHeaders(),
			MaxAge:         7200,
		}).Handler(h)
	}
	path, h := authv1connect.NewAuthServiceHandler(&connectServer{auth: a, cookies: cookies}, shared, interceptors)
	mount(path, withCORS(h))
	path, h = authv1connect.NewAdminServiceHandler(&adminServer{auth: a}, shared, interceptors)
	mount(path, withCORS(h))
	path, h = authv1connect.NewPasskeyServiceHandler(&passkeyServer{auth: a, cookies: cookies}, shared, interceptors)
	mount(path, withCORS(h))
	path, h = authv1connect.NewDeviceServiceHandler(&deviceServer{auth: a}, shared, interceptors)
	mount(path, withCORS(h))
	reflector := grpcreflect.NewStaticReflector(authv1connect.AuthServiceName, authv1connect.AdminServiceName, authv1connect.PasskeyServiceName, authv1connect.DeviceServiceName, grpchealth.HealthV1ServiceName)
	mount(grpcreflect.NewHandlerV1(reflector, shared))
	mount(grpcreflect.NewHandlerV1Alpha(reflector, shared))
	mount(grpchealth.NewHandler(grpchealth.NewStaticChecker(authv1connect.AuthServiceName, authv1connect.AdminServiceName, authv1connect.PasskeyServiceName, authv1connect.DeviceServiceName), shared))
}

// Introspect implements RPC Introspect.
func (s *connectServer) Introspect(ctx context.Context, req *connect.Request[authv1.IntrospectRequest]) (*connect.Response[authv1.IntrospectResponse], error) {
	in, err := s.auth.Introspect(ctx, servicePrincipal(ctx), req.Msg.Token)
	if err != nil {
		return nil, err
	}
	out := &authv1.IntrospectResponse{Active: in.Active}
	if in.Active {
		out.Sub, out.Sid, out.Email, out.Tier, out.Exp = in.UserID, in.SessionID, in.Email, tiers[in.Tier], in.ExpiresAt.Unix()
		if in.MachineLimit != nil {
			n := int32(*in.MachineLimit)
			out.MachineLimit = &n
		}
	}
	return connect.NewResponse(out), nil
}
