package main

import (
	"context"
	"net/http"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/sdk/apitime"
)

// restServer is the REST adapter: each method decodes the generated request, calls one domain
// method and encodes its result. Errors go, unchanged, to the strict server's error handler,
// which renders them through errorTable.
type restServer struct {
	auth *auth.Service
}

var _ StrictServerInterface = (*restServer)(nil)

func registeredUser(p auth.Profile) *RegisteredUser {
	return &RegisteredUser{
		Id: p.ID, Email: p.Email, Name: p.Name, Tier: Tier(p.Tier),
		TrialEndsAt: apitime.Ptr(p.TrialEndsAt), CreatedAt: apitime.From(p.CreatedAt),
	}
}

func loginUser(p auth.Profile) LoginUser {
	return LoginUser{
		Id: p.ID, Email: p.Email, Name: p.Name, Tier: Tier(p.Tier), TotpEnabled: p.TOTPEnabled,
		TrialEndsAt: apitime.Ptr(p.TrialEndsAt), CreatedAt: apitime.From(p.CreatedAt),
	}
}

func profile(p auth.Profile) Profile {
	return Profile{
		Id: p.ID, Email: p.Email, Name: p.Name, Tier: Tier(p.Tier), TotpEnabled: p.TOTPEnabled,
		MachineLimit: p.MachineLimit, TrialEndsAt: apitime.Ptr(p.TrialEndsAt),
		CreatedAt: apitime.From(p.CreatedAt), UpdatedAt: apitime.From(p.UpdatedAt),
	}
}

func message(m string) MessageEnvelope {
	return MessageEnvelope{Ok: true, Data: MessageResult{Message: m}}
}

// Register implements operation register.
func (s *restServer) Register(ctx context.Context, req RegisterRequestObject) (RegisterResponseObject, error) {
	res, err := s.auth.Register(ctx, auth.RegisterInput{Email: req.Body.Email, Name: req.Body.Name, Password: req.Body.Password})
	if err != nil {
		return nil, err
	}
	if !res.Created {
		return Register200JSONResponse{Ok: true, Data: RegisterResult{Message: &res.Message}}, nil
	}
	exp := apitime.From(res.ExpiresAt)
	return Register200JSONResponse{Ok: true, Data: RegisterResult{User: registeredUser(res.User), Token: &res.Token, ExpiresAt: &exp}}, nil
}

// Login implements operation login.
func (s *restServer) Login(ctx context.Context, req LoginRequestObject) (LoginResponseObject, error) {
	b := req.Body
	res, err := s.auth.Login(ctx, auth.LoginInput{Email: b.Email, Password: b.Password, TOTPCode: b.TotpCode, BackupCode: b.BackupCode})
	if err != nil {
		return nil, err
	}
	var body Login200JSONResponseBody
	if res.TOTPRequired {
		err = body.FromTotpRequiredEnvelope(TotpRequiredEnvelope{Ok: false, Error: auth.MsgTOTPRequired, Code: TotpRequiredEnvelopeCode(auth.CodeTOTPRequired), TotpRequired: true})
	} else {
		err = body.FromLoginEnvelope(LoginEnvelope{Ok: true, Data: LoginResult{User: loginUser(res.User), Token: res.Token, ExpiresAt: apitime.From(res.ExpiresAt)}})
	}
	return Login200JSONResponse(body), err
}

// Logout implements operation logout.
func (s *restServer) Logout(ctx context.Context, _ LogoutRequestObject) (LogoutResponseObject, error) {
	if err := s.auth.Logout(ctx, bearerFrom(ctx)); err != nil {
		return nil, err
	}
	return Logout200JSONResponse(message(auth.MsgLoggedOut)), nil
}

// Me implements operation me.
func (s *restServer) Me(ctx context.Context, _ MeRequestObject) (MeResponseObject, error) {
	p, err := s.auth.Me(ctx, bearerFrom(ctx))
	if err != nil {
		return nil, err
	}
	return Me200JSONResponse{Ok: true, Data: profile(p)}, nil
}

// ForgotPassword implements operation forgotPassword.
func (s *restServer) ForgotPassword(ctx context.Context, req ForgotPasswordRequestObject) (ForgotPasswordResponseObject, error) {
	if err := s.auth.ForgotPassword(ctx, req.Body.Email); err != nil {
		return nil, err
	}
	return ForgotPassword200JSONResponse(message(auth.MsgForgotPassword)), nil
}

// ResetPassword implements operation resetPassword.
func (s *restServer) ResetPassword(ctx context.Context, req ResetPasswordRequestObject) (ResetPasswordResponseObject, error) {
	if err := s.auth.ResetPassword(ctx, req.Body.Token, req.Body.NewPassword); err != nil {
		return nil, err
	}
	return ResetPassword200JSONResponse(message(auth.MsgPasswordReset)), nil
}

// SetupTotp implements operation setupTotp.
func (s *restServer) SetupTotp(ctx context.Context, _ SetupTotpRequestObject) (SetupTotpResponseObject, error) {
	r, err := s.auth.SetupTotp(ctx, bearerFrom(ctx))
	if err != nil {
		return nil, err
	}
	return SetupTotp200JSONResponse{Ok: true, Data: TotpSetupResult{Secret: r.Secret, OtpauthUrl: r.OTPAuthURL, BackupCodes: r.BackupCodes}}, nil
}

// VerifyTotp implements operation verifyTotp.
func (s *restServer) VerifyTotp(ctx context.Context, req VerifyTotpRequestObject) (VerifyTotpResponseObject, error) {
	if err := s.auth.VerifyTotp(ctx, bearerFrom(ctx), req.Body.TotpCode); err != nil {
		return nil, err
	}
	return VerifyTotp200JSONResponse(message(auth.MsgTOTPEnabled)), nil
}

// DisableTotp implements operation disableTotp.
func (s *restServer) DisableTotp(ctx context.Context, req DisableTotpRequestObject) (DisableTotpResponseObject, error) {
	if err := s.auth.DisableTotp(ctx, bearerFrom(ctx), req.Body.Password); err != nil {
		return nil, err
	}
	return DisableTotp200JSONResponse(message(auth.MsgTOTPDisabled)), nil
}

// GetTotpStatus implements operation getTotpStatus.
func (s *restServer) GetTotpStatus(ctx context.Context, _ GetTotpStatusRequestObject) (GetTotpStatusResponseObject, error) {
	st, err := s.auth.GetTotpStatus(ctx, bearerFrom(ctx))
	if err != nil {
		return nil, err
	}
	return GetTotpStatus200JSONResponse{Ok: true, Data: TotpStatus{Enabled: st.Enabled, Pending: st.Pending, BackupCodesRemaining: st.BackupCodesRemaining}}, nil
}

// RegenerateBackupCodes implements operation regenerateBackupCodes.
func (s *restServer) RegenerateBackupCodes(ctx context.Context, req RegenerateBackupCodesRequestObject) (RegenerateBackupCodesResponseObject, error) {
	codes, err := s.auth.RegenerateBackupCodes(ctx, bearerFrom(ctx), req.Body.Password)
	if err != nil {
		return nil, err
	}
	return RegenerateBackupCodes200JSONResponse{Ok: true, Data: BackupCodes{BackupCodes: codes}}, nil
}

// restHandler mounts the REST API on mux.
func restHandler(a *auth.Service, mux *http.ServeMux, errorf func(http.ResponseWriter, *http.Request, error)) {
	strict := NewStrictHandlerWithOptions(&restServer{auth: a},
		[]StrictMiddlewareFunc{func(f StrictHandlerFunc, _ string) StrictHandlerFunc {
			return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
				return f(withBearer(ctx, bearerToken(r.Header)), w, r, req)
			}
		}},
		StrictHTTPServerOptions{RequestErrorHandlerFunc: requestError, ResponseErrorHandlerFunc: errorf})
	HandlerWithOptions(strict, StdHTTPServerOptions{
		BaseRouter: mux,
		Middlewares: []MiddlewareFunc{func(h http.Handler) http.Handler {
			return limitBody(h)
		}},
		ErrorHandlerFunc: requestError,
	})
}
