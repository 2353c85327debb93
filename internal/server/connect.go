package server

import (
	"context"
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
	auth *auth.Service
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
	return u
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
	return connect.NewResponse(&authv1.RegisterResponse{
		Created: true, User: rpcUser(res.User), Token: res.Token, ExpiresAt: timestamppb.New(res.ExpiresAt),
	}), nil
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
	return connect.NewResponse(&authv1.LoginResponse{User: rpcUser(res.User), Token: res.Token, ExpiresAt: timestamppb.New(res.ExpiresAt)}), nil
}

// Logout implements RPC Logout.
func (s *connectServer) Logout(ctx context.Context, req *connect.Request[authv1.LogoutRequest]) (*connect.Response[authv1.LogoutResponse], error) {
	if err := s.auth.Logout(ctx, principal(ctx)); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.LogoutResponse{Message: auth.MsgLoggedOut}), nil
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
	if err := s.auth.DisableTOTP(ctx, principal(ctx), req.Msg.Password); err != nil {
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
	codes, err := s.auth.RegenerateBackupCodes(ctx, principal(ctx), req.Msg.Password)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.RegenerateBackupCodesResponse{BackupCodes: codes}), nil
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
func connectHandlers(a *auth.Service, mux *http.ServeMux, secured map[string]bool, log *slog.Logger, mt *metrics, corsOrigins []string) {
	shared := rpcHandlerOptions()
	mount := func(path string, h http.Handler) { mux.Handle(path, capRPCBody(h)) }
	path, h := authv1connect.NewAuthServiceHandler(&connectServer{auth: a}, shared,
		connect.WithInterceptors(rpcMetrics(mt), errorInterceptor(log, mt), authenticateRPC(a, secured)))
	if len(corsOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: corsOrigins,
			AllowedMethods: connectcors.AllowedMethods(),
			AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
			ExposedHeaders: connectcors.ExposedHeaders(),
			MaxAge:         7200,
		}).Handler(h)
	}
	mount(path, h)
	reflector := grpcreflect.NewStaticReflector(authv1connect.AuthServiceName, grpchealth.HealthV1ServiceName)
	mount(grpcreflect.NewHandlerV1(reflector, shared))
	mount(grpcreflect.NewHandlerV1Alpha(reflector, shared))
	mount(grpchealth.NewHandler(grpchealth.NewStaticChecker(authv1connect.AuthServiceName), shared))
}
