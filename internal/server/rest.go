package server

import (
	"context"
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
	}
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
	return restapi.SetupTotp200JSONResponse{Ok: true, Data: restapi.TotpSetupResult{Secret: r.Secret, OtpauthUrl: r.OTPAuthURL, BackupCodes: r.BackupCodes}}, nil
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
	if err := s.auth.DisableTOTP(ctx, principal(ctx), req.Body.Password); err != nil {
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
	codes, err := s.auth.RegenerateBackupCodes(ctx, principal(ctx), req.Body.Password)
	if err != nil {
		return nil, err
	}
	return restapi.RegenerateBackupCodes200JSONResponse{Ok: true, Data: restapi.BackupCodes{BackupCodes: codes}}, nil
}

// restHandler mounts the REST API on mux; secured operations are authenticated at the edge.
func restHandler(a *auth.Service, mux *http.ServeMux, secured map[string]bool, errorf func(http.ResponseWriter, *http.Request, error)) {
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
