package server

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"panguard.ai/auth/internal/auth"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// passkeyServer is the Connect adapter of PasskeyService: decode, call one domain method,
// encode. The WebAuthn JSON passes through as text, untouched.
type passkeyServer struct {
	auth    *auth.Service
	cookies sessionCookies
}

var _ authv1connect.PasskeyServiceHandler = (*passkeyServer)(nil)

// rpcPasskey is the one RPC encoding of a passkey.
func rpcPasskey(pk auth.PasskeyInfo) *authv1.Passkey {
	return &authv1.Passkey{Id: pk.ID, Name: pk.Name, CreatedAt: timestamppb.New(pk.CreatedAt), LastUsedAt: ts(pk.LastUsedAt)}
}

// BeginPasskeyRegistration implements RPC BeginPasskeyRegistration.
func (s *passkeyServer) BeginPasskeyRegistration(ctx context.Context, req *connect.Request[authv1.BeginPasskeyRegistrationRequest]) (*connect.Response[authv1.BeginPasskeyRegistrationResponse], error) {
	m := req.Msg
	c, err := s.auth.BeginPasskeyRegistration(ctx, principal(ctx), auth.Reauth{Password: m.Password, TOTPCode: m.TotpCode, BackupCode: m.BackupCode})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.BeginPasskeyRegistrationResponse{ChallengeId: c.ChallengeID, OptionsJson: string(c.Options)}), nil
}

// FinishPasskeyRegistration implements RPC FinishPasskeyRegistration.
func (s *passkeyServer) FinishPasskeyRegistration(ctx context.Context, req *connect.Request[authv1.FinishPasskeyRegistrationRequest]) (*connect.Response[authv1.FinishPasskeyRegistrationResponse], error) {
	m := req.Msg
	pk, err := s.auth.FinishPasskeyRegistration(ctx, principal(ctx), auth.PasskeyRegistration{ChallengeID: m.ChallengeId, Credential: []byte(m.CredentialJson), Name: m.Name})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.FinishPasskeyRegistrationResponse{Passkey: rpcPasskey(pk)}), nil
}

// ListPasskeys implements RPC ListPasskeys.
func (s *passkeyServer) ListPasskeys(ctx context.Context, _ *connect.Request[authv1.ListPasskeysRequest]) (*connect.Response[authv1.ListPasskeysResponse], error) {
	pks, err := s.auth.ListPasskeys(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	out := &authv1.ListPasskeysResponse{Passkeys: make([]*authv1.Passkey, len(pks))}
	for i, pk := range pks {
		out.Passkeys[i] = rpcPasskey(pk)
	}
	return connect.NewResponse(out), nil
}

// RenamePasskey implements RPC RenamePasskey.
func (s *passkeyServer) RenamePasskey(ctx context.Context, req *connect.Request[authv1.RenamePasskeyRequest]) (*connect.Response[authv1.RenamePasskeyResponse], error) {
	pk, err := s.auth.RenamePasskey(ctx, principal(ctx), req.Msg.Id, req.Msg.Name)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.RenamePasskeyResponse{Passkey: rpcPasskey(pk)}), nil
}

// DeletePasskey implements RPC DeletePasskey.
func (s *passkeyServer) DeletePasskey(ctx context.Context, req *connect.Request[authv1.DeletePasskeyRequest]) (*connect.Response[authv1.DeletePasskeyResponse], error) {
	m := req.Msg
	if err := s.auth.DeletePasskey(ctx, principal(ctx), m.Id, auth.Reauth{Password: m.Password, TOTPCode: m.TotpCode, BackupCode: m.BackupCode}); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.DeletePasskeyResponse{Message: auth.MsgPasskeyRemoved}), nil
}

// BeginPasskeyLogin implements RPC BeginPasskeyLogin.
func (s *passkeyServer) BeginPasskeyLogin(ctx context.Context, _ *connect.Request[authv1.BeginPasskeyLoginRequest]) (*connect.Response[authv1.BeginPasskeyLoginResponse], error) {
	c, err := s.auth.BeginPasskeyLogin(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.BeginPasskeyLoginResponse{ChallengeId: c.ChallengeID, OptionsJson: string(c.Options)}), nil
}

// FinishPasskeyLogin implements RPC FinishPasskeyLogin: a sign-in RPC, so it answers with the
// session cookie when asked, exactly like Login.
func (s *passkeyServer) FinishPasskeyLogin(ctx context.Context, req *connect.Request[authv1.FinishPasskeyLoginRequest]) (*connect.Response[authv1.FinishPasskeyLoginResponse], error) {
	res, err := s.auth.FinishPasskeyLogin(ctx, req.Msg.ChallengeId, []byte(req.Msg.CredentialJson))
	if err != nil {
		return nil, err
	}
	out := connect.NewResponse(&authv1.FinishPasskeyLoginResponse{User: rpcUser(res.User), Token: res.Token, ExpiresAt: timestamppb.New(res.ExpiresAt)})
	if s.cookies.wanted(req) {
		s.cookies.set(out.Header(), res.Token, res.ExpiresAt)
		out.Msg.Token = ""
	}
	return out, nil
}
