package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"panguard.ai/auth/internal/server/restapi"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/sdk/apitime"
)

// restServer is the REST adapter: each method decodes the generated request, calls one domain
// method and encodes its result. Errors go, unchanged, to the strict server's error handler,
// which renders them through errorTable.
type restServer struct {
	auth *auth.Service
}

var _ restapi.StrictServerInterface = (*restServer)(nil)

// user is the one REST encoding of an account.
func user(p auth.Profile) restapi.User {
	return restapi.User{
		Id: p.ID, Email: p.Email, Name: p.Name, Tier: restapi.Tier(p.Tier), TotpEnabled: p.TOTPEnabled,
		MachineLimit: p.MachineLimit, TrialEndsAt: apitime.Ptr(p.TrialEndsAt),
		CreatedAt: apitime.From(p.CreatedAt), UpdatedAt: apitime.From(p.UpdatedAt),
		EmailVerified: p.EmailVerified, Role: restapi.UserRole(p.Role), PlanExpiresAt: apitime.Ptr(p.PlanExpiresAt),
	}
}

// session is the one REST encoding of a session.
func session(v auth.SessionView) restapi.SessionInfo {
	return restapi.SessionInfo{
		Id: v.ID, CreatedAt: apitime.From(v.CreatedAt), LastSeenAt: apitime.From(v.LastSeenAt), ExpiresAt: apitime.From(v.ExpiresAt),
		Ip: v.IP, UserAgent: v.UserAgent, Current: v.Current, Method: restapi.SessionInfoMethod(v.Method),
	}
}

func sessions(vs []auth.SessionView) []restapi.SessionInfo {
	out := make([]restapi.SessionInfo, len(vs))
	for i, v := range vs {
		out[i] = session(v)
	}
	return out
}

// event is the one REST encoding of an activity event.
func event(e auth.Event) restapi.ActivityEvent {
	out := restapi.ActivityEvent{Id: e.ID, Type: e.Type, At: apitime.From(e.At), Ip: e.IP, UserAgent: e.UserAgent, Actor: e.Actor}
	if len(e.Detail) > 0 {
		d := make(map[string]any, len(e.Detail))
		for k, v := range e.Detail {
			d[k] = v
		}
		out.Detail = &d
	}
	return out
}

func events(es []auth.Event) []restapi.ActivityEvent {
	out := make([]restapi.ActivityEvent, len(es))
	for i, e := range es {
		out[i] = event(e)
	}
	return out
}

// reauth decodes the re-authentication fields every sensitive operation carries, on both
// transports.
func reauth(password string, totpCode, backupCode *string) auth.Reauth {
	return auth.Reauth{Password: password, TOTPCode: totpCode, BackupCode: backupCode}
}

func message(m string) restapi.MessageEnvelope {
	return restapi.MessageEnvelope{Ok: true, Data: restapi.MessageResult{Message: m}}
}

// Register implements operation register.
func (s *restServer) Register(ctx context.Context, req restapi.RegisterRequestObject) (restapi.RegisterResponseObject, error) {
	res, err := s.auth.Register(ctx, auth.RegisterInput{Email: req.Body.Email, Name: req.Body.Name, Password: req.Body.Password})
	if err != nil {
		return nil, err
	}
	if !res.Created {
		return restapi.Register200JSONResponse{Ok: true, Data: restapi.RegisterResult{Message: &res.Message}}, nil
	}
	exp := apitime.From(res.ExpiresAt)
	return restapi.Register200JSONResponse{Ok: true, Data: restapi.RegisterResult{User: ptr(user(res.User)), Token: &res.Token, ExpiresAt: &exp}}, nil
}

// Login implements operation login.
func (s *restServer) Login(ctx context.Context, req restapi.LoginRequestObject) (restapi.LoginResponseObject, error) {
	b := req.Body
	res, err := s.auth.Login(ctx, auth.LoginInput{Email: b.Email, Password: b.Password, TOTPCode: b.TotpCode, BackupCode: b.BackupCode})
	if err != nil {
		return nil, err
	}
	var body restapi.Login200JSONResponseBody
	if res.TOTPRequired {
		err = body.FromTotpRequiredEnvelope(restapi.TotpRequiredEnvelope{Ok: false, Error: auth.MsgTOTPRequired, Code: restapi.TotpRequiredEnvelopeCode(auth.CodeTOTPRequired), TotpRequired: true})
	} else {
		err = body.FromLoginEnvelope(restapi.LoginEnvelope{Ok: true, Data: restapi.LoginResult{User: user(res.User), Token: res.Token, ExpiresAt: apitime.From(res.ExpiresAt)}})
	}
	return restapi.Login200JSONResponse(body), err
}

// Logout implements operation logout.
func (s *restServer) Logout(ctx context.Context, _ restapi.LogoutRequestObject) (restapi.LogoutResponseObject, error) {
	if err := s.auth.Logout(ctx, principal(ctx)); err != nil {
		return nil, err
	}
	return restapi.Logout200JSONResponse(message(auth.MsgLoggedOut)), nil
}

// Me implements operation me.
func (s *restServer) Me(ctx context.Context, _ restapi.MeRequestObject) (restapi.MeResponseObject, error) {
	p, err := s.auth.Me(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return restapi.Me200JSONResponse{Ok: true, Data: user(p)}, nil
}

// ForgotPassword implements operation forgotPassword.
func (s *restServer) ForgotPassword(ctx context.Context, req restapi.ForgotPasswordRequestObject) (restapi.ForgotPasswordResponseObject, error) {
	if err := s.auth.ForgotPassword(ctx, req.Body.Email); err != nil {
		return nil, err
	}
	return restapi.ForgotPassword200JSONResponse(message(auth.MsgForgotPassword)), nil
}

// ResetPassword implements operation resetPassword.
func (s *restServer) ResetPassword(ctx context.Context, req restapi.ResetPasswordRequestObject) (restapi.ResetPasswordResponseObject, error) {
	if err := s.auth.ResetPassword(ctx, req.Body.Token, req.Body.NewPassword); err != nil {
		return nil, err
	}
	return restapi.ResetPassword200JSONResponse(message(auth.MsgPasswordReset)), nil
}

// SetupTotp implements operation setupTotp.
func (s *restServer) SetupTotp(ctx context.Context, _ restapi.SetupTotpRequestObject) (restapi.SetupTotpResponseObject, error) {
	r, err := s.auth.SetupTOTP(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return setupTotpJSON{Ok: true, Data: restapi.TotpSetupResult{Secret: r.Secret, OtpauthUrl: r.OTPAuthURL, BackupCodes: r.BackupCodes}}, nil
}

// setupTotpJSON is the setupTotp answer written without HTML escaping: the otpauthUrl is
// JSON, not HTML, and its "&" must reach clients (and people copying it) as "&", not "\u0026".
type setupTotpJSON restapi.SetupTotp200JSONResponse

// VisitSetupTotpResponse writes the answer.
func (r setupTotpJSON) VisitSetupTotpResponse(w http.ResponseWriter) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(buf.Bytes())
	return err
}

// VerifyTotp implements operation verifyTotp.
func (s *restServer) VerifyTotp(ctx context.Context, req restapi.VerifyTotpRequestObject) (restapi.VerifyTotpResponseObject, error) {
	if err := s.auth.VerifyTOTP(ctx, principal(ctx), req.Body.TotpCode); err != nil {
		return nil, err
	}
	return restapi.VerifyTotp200JSONResponse(message(auth.MsgTOTPEnabled)), nil
}

// DisableTotp implements operation disableTotp.
func (s *restServer) DisableTotp(ctx context.Context, req restapi.DisableTotpRequestObject) (restapi.DisableTotpResponseObject, error) {
	if err := s.auth.DisableTOTP(ctx, principal(ctx), reauth(req.Body.Password, req.Body.TotpCode, req.Body.BackupCode)); err != nil {
		return nil, err
	}
	return restapi.DisableTotp200JSONResponse(message(auth.MsgTOTPDisabled)), nil
}

// GetTotpStatus implements operation getTotpStatus.
func (s *restServer) GetTotpStatus(ctx context.Context, _ restapi.GetTotpStatusRequestObject) (restapi.GetTotpStatusResponseObject, error) {
	st, err := s.auth.TOTPStatus(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return restapi.GetTotpStatus200JSONResponse{Ok: true, Data: restapi.TotpStatus{Enabled: st.Enabled, Pending: st.Pending, BackupCodesRemaining: st.BackupCodesRemaining}}, nil
}

// RegenerateBackupCodes implements operation regenerateBackupCodes.
func (s *restServer) RegenerateBackupCodes(ctx context.Context, req restapi.RegenerateBackupCodesRequestObject) (restapi.RegenerateBackupCodesResponseObject, error) {
	codes, err := s.auth.RegenerateBackupCodes(ctx, principal(ctx), reauth(req.Body.Password, req.Body.TotpCode, req.Body.BackupCode))
	if err != nil {
		return nil, err
	}
	return restapi.RegenerateBackupCodes200JSONResponse{Ok: true, Data: restapi.BackupCodes{BackupCodes: codes}}, nil
}

// ListSessions implements operation listSessions.
func (s *restServer) ListSessions(ctx context.Context, _ restapi.ListSessionsRequestObject) (restapi.ListSessionsResponseObject, error) {
	vs, err := s.auth.ListSessions(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return restapi.ListSessions200JSONResponse{Ok: true, Data: restapi.Sessions{Sessions: sessions(vs)}}, nil
}

// RevokeSession implements operation revokeSession.
func (s *restServer) RevokeSession(ctx context.Context, req restapi.RevokeSessionRequestObject) (restapi.RevokeSessionResponseObject, error) {
	if err := s.auth.RevokeSession(ctx, principal(ctx), req.Id); err != nil {
		return nil, err
	}
	return restapi.RevokeSession200JSONResponse(message(auth.MsgSessionRevoked)), nil
}

// RevokeOtherSessions implements operation revokeOtherSessions.
func (s *restServer) RevokeOtherSessions(ctx context.Context, _ restapi.RevokeOtherSessionsRequestObject) (restapi.RevokeOtherSessionsResponseObject, error) {
	n, err := s.auth.RevokeOtherSessions(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return restapi.RevokeOtherSessions200JSONResponse{Ok: true, Data: restapi.Revoked{Revoked: n}}, nil
}

// UpdateMe implements operation updateMe.
func (s *restServer) UpdateMe(ctx context.Context, req restapi.UpdateMeRequestObject) (restapi.UpdateMeResponseObject, error) {
	p, err := s.auth.UpdateMe(ctx, principal(ctx), req.Body.Name)
	if err != nil {
		return nil, err
	}
	return restapi.UpdateMe200JSONResponse{Ok: true, Data: user(p)}, nil
}

// ChangePassword implements operation changePassword.
func (s *restServer) ChangePassword(ctx context.Context, req restapi.ChangePasswordRequestObject) (restapi.ChangePasswordResponseObject, error) {
	b := req.Body
	in := auth.ChangePasswordInput{NewPassword: b.NewPassword, Reauth: reauth(b.CurrentPassword, b.TotpCode, b.BackupCode)}
	if err := s.auth.ChangePassword(ctx, principal(ctx), in); err != nil {
		return nil, err
	}
	return restapi.ChangePassword200JSONResponse(message(auth.MsgPasswordChanged)), nil
}

// ChangeEmail implements operation changeEmail.
func (s *restServer) ChangeEmail(ctx context.Context, req restapi.ChangeEmailRequestObject) (restapi.ChangeEmailResponseObject, error) {
	b := req.Body
	in := auth.ChangeEmailInput{NewEmail: b.NewEmail, Reauth: reauth(b.Password, b.TotpCode, b.BackupCode)}
	if err := s.auth.ChangeEmail(ctx, principal(ctx), in); err != nil {
		return nil, err
	}
	return restapi.ChangeEmail200JSONResponse(message(auth.MsgEmailChangeRequested)), nil
}

// ConfirmEmail implements operation confirmEmail.
func (s *restServer) ConfirmEmail(ctx context.Context, req restapi.ConfirmEmailRequestObject) (restapi.ConfirmEmailResponseObject, error) {
	p, err := s.auth.ConfirmEmail(ctx, req.Body.Token)
	if err != nil {
		return nil, err
	}
	return restapi.ConfirmEmail200JSONResponse{Ok: true, Data: user(p)}, nil
}

// VerifyEmail implements operation verifyEmail.
func (s *restServer) VerifyEmail(ctx context.Context, req restapi.VerifyEmailRequestObject) (restapi.VerifyEmailResponseObject, error) {
	if err := s.auth.VerifyEmail(ctx, req.Body.Token); err != nil {
		return nil, err
	}
	return restapi.VerifyEmail200JSONResponse(message(auth.MsgEmailVerified)), nil
}

// ResendVerification implements operation resendVerification.
func (s *restServer) ResendVerification(ctx context.Context, _ restapi.ResendVerificationRequestObject) (restapi.ResendVerificationResponseObject, error) {
	if err := s.auth.ResendVerification(ctx, principal(ctx)); err != nil {
		return nil, err
	}
	return restapi.ResendVerification200JSONResponse(message(auth.MsgVerificationResent)), nil
}

// ListActivity implements operation listActivity.
func (s *restServer) ListActivity(ctx context.Context, req restapi.ListActivityRequestObject) (restapi.ListActivityResponseObject, error) {
	q := auth.ActivityQuery{Limit: req.Params.Limit}
	if req.Params.Before != nil {
		q.Before = *req.Params.Before
	}
	page, err := s.auth.ListActivity(ctx, principal(ctx), q)
	if err != nil {
		return nil, err
	}
	data := restapi.Activity{Events: events(page.Events)}
	if page.NextCursor != "" {
		data.NextCursor = &page.NextCursor
	}
	return restapi.ListActivity200JSONResponse{Ok: true, Data: data}, nil
}

// ExportAccount implements operation exportAccount.
func (s *restServer) ExportAccount(ctx context.Context, _ restapi.ExportAccountRequestObject) (restapi.ExportAccountResponseObject, error) {
	x, err := s.auth.ExportAccount(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	passkeys := make([]restapi.ExportedPasskey, len(x.Passkeys))
	for i, pk := range x.Passkeys {
		passkeys[i] = restapi.ExportedPasskey{Id: pk.ID, Name: pk.Name, CreatedAt: apitime.From(pk.CreatedAt), LastUsedAt: apitime.Ptr(pk.LastUsedAt)}
	}
	disposition := `attachment; filename="panguard-account-export.json"`
	return restapi.ExportAccount200JSONResponse{
		Headers: restapi.ExportAccount200ResponseHeaders{ContentDisposition: &disposition},
		Body: restapi.ExportEnvelope{Ok: true, Data: restapi.Export{
			ExportedAt: apitime.From(x.ExportedAt), User: user(x.User), Sessions: sessions(x.Sessions), Activity: events(x.Activity),
			TwoFactor: restapi.TwoFactorSummary{Enabled: x.TwoFactor.Enabled, BackupCodesRemaining: x.TwoFactor.BackupCodesRemaining},
			Passkeys:  passkeys,
		}},
	}, nil
}

// DeleteAccount implements operation deleteAccount.
func (s *restServer) DeleteAccount(ctx context.Context, req restapi.DeleteAccountRequestObject) (restapi.DeleteAccountResponseObject, error) {
	b := req.Body
	if err := s.auth.DeleteAccount(ctx, principal(ctx), reauth(b.Password, b.TotpCode, b.BackupCode)); err != nil {
		return nil, err
	}
	return restapi.DeleteAccount200JSONResponse(message(auth.MsgAccountDeleted)), nil
}

// restHandler mounts the REST API on mux; secured operations are authenticated at the edge.
func restHandler(a *auth.Service, mux *http.ServeMux, secured map[string]string, errorf func(http.ResponseWriter, *http.Request, error)) {
	strict := restapi.NewStrictHandlerWithOptions(&restServer{auth: a},
		[]restapi.StrictMiddlewareFunc{authenticateREST(a, secured)},
		restapi.StrictHTTPServerOptions{RequestErrorHandlerFunc: requestError, ResponseErrorHandlerFunc: errorf})
	restapi.HandlerWithOptions(strict, restapi.StdHTTPServerOptions{
		BaseRouter:       mux,
		Middlewares:      []restapi.MiddlewareFunc{limitBody},
		ErrorHandlerFunc: requestError,
	})
}

func ptr[T any](v T) *T { return &v }

// Introspect implements operation introspect.
func (s *restServer) Introspect(ctx context.Context, req restapi.IntrospectRequestObject) (restapi.IntrospectResponseObject, error) {
	in, err := s.auth.Introspect(ctx, servicePrincipal(ctx), req.Body.Token)
	if err != nil {
		return nil, err
	}
	data := restapi.Introspection{Active: in.Active}
	if in.Active {
		tier, exp := restapi.Tier(in.Tier), in.ExpiresAt.Unix()
		data.Sub, data.Sid, data.Email, data.Tier, data.MachineLimit, data.Exp = &in.UserID, &in.SessionID, &in.Email, &tier, in.MachineLimit, &exp
	}
	return restapi.Introspect200JSONResponse{Ok: true, Data: data}, nil
}
