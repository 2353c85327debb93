package server

import (
	"context"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/server/restapi"
	"panguard.ai/auth/sdk/apitime"
)

// restPasskey is the one REST encoding of a passkey.
func restPasskey(pk auth.PasskeyInfo) restapi.ExportedPasskey {
	return restapi.ExportedPasskey{Id: pk.ID, Name: pk.Name, CreatedAt: apitime.From(pk.CreatedAt), LastUsedAt: apitime.Ptr(pk.LastUsedAt)}
}

func passkeyEnvelope(pk auth.PasskeyInfo) restapi.PasskeyEnvelope {
	e := restapi.PasskeyEnvelope{Ok: true}
	e.Data.Passkey = restPasskey(pk)
	return e
}

func ceremonyEnvelope(c auth.PasskeyCeremony) restapi.PasskeyCeremonyEnvelope {
	return restapi.PasskeyCeremonyEnvelope{Ok: true, Data: restapi.PasskeyCeremony{ChallengeId: c.ChallengeID, Options: c.Options}}
}

// BeginPasskeyRegistration implements operation beginPasskeyRegistration.
func (s *restServer) BeginPasskeyRegistration(ctx context.Context, req restapi.BeginPasskeyRegistrationRequestObject) (restapi.BeginPasskeyRegistrationResponseObject, error) {
	b := req.Body
	c, err := s.auth.BeginPasskeyRegistration(ctx, principal(ctx), reauth(b.Password, b.TotpCode, b.BackupCode))
	if err != nil {
		return nil, err
	}
	return restapi.BeginPasskeyRegistration200JSONResponse(ceremonyEnvelope(c)), nil
}

// FinishPasskeyRegistration implements operation finishPasskeyRegistration.
func (s *restServer) FinishPasskeyRegistration(ctx context.Context, req restapi.FinishPasskeyRegistrationRequestObject) (restapi.FinishPasskeyRegistrationResponseObject, error) {
	b := req.Body
	in := auth.PasskeyRegistration{ChallengeID: b.ChallengeId, Credential: b.Credential}
	if b.Name != nil {
		in.Name = *b.Name
	}
	pk, err := s.auth.FinishPasskeyRegistration(ctx, principal(ctx), in)
	if err != nil {
		return nil, err
	}
	return restapi.FinishPasskeyRegistration200JSONResponse(passkeyEnvelope(pk)), nil
}

// ListPasskeys implements operation listPasskeys.
func (s *restServer) ListPasskeys(ctx context.Context, _ restapi.ListPasskeysRequestObject) (restapi.ListPasskeysResponseObject, error) {
	pks, err := s.auth.ListPasskeys(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	out := restapi.ListPasskeys200JSONResponse{Ok: true}
	out.Data.Passkeys = make([]restapi.ExportedPasskey, len(pks))
	for i, pk := range pks {
		out.Data.Passkeys[i] = restPasskey(pk)
	}
	return out, nil
}

// RenamePasskey implements operation renamePasskey.
func (s *restServer) RenamePasskey(ctx context.Context, req restapi.RenamePasskeyRequestObject) (restapi.RenamePasskeyResponseObject, error) {
	pk, err := s.auth.RenamePasskey(ctx, principal(ctx), req.Id, req.Body.Name)
	if err != nil {
		return nil, err
	}
	return restapi.RenamePasskey200JSONResponse(passkeyEnvelope(pk)), nil
}

// DeletePasskey implements operation deletePasskey.
func (s *restServer) DeletePasskey(ctx context.Context, req restapi.DeletePasskeyRequestObject) (restapi.DeletePasskeyResponseObject, error) {
	b := req.Body
	if err := s.auth.DeletePasskey(ctx, principal(ctx), req.Id, reauth(b.Password, b.TotpCode, b.BackupCode)); err != nil {
		return nil, err
	}
	return restapi.DeletePasskey200JSONResponse(message(auth.MsgPasskeyRemoved)), nil
}

// BeginPasskeyLogin implements operation beginPasskeyLogin.
func (s *restServer) BeginPasskeyLogin(ctx context.Context, _ restapi.BeginPasskeyLoginRequestObject) (restapi.BeginPasskeyLoginResponseObject, error) {
	c, err := s.auth.BeginPasskeyLogin(ctx)
	if err != nil {
		return nil, err
	}
	return restapi.BeginPasskeyLogin200JSONResponse(ceremonyEnvelope(c)), nil
}

// FinishPasskeyLogin implements operation finishPasskeyLogin.
func (s *restServer) FinishPasskeyLogin(ctx context.Context, req restapi.FinishPasskeyLoginRequestObject) (restapi.FinishPasskeyLoginResponseObject, error) {
	res, err := s.auth.FinishPasskeyLogin(ctx, req.Body.ChallengeId, req.Body.Credential)
	if err != nil {
		return nil, err
	}
	return restapi.FinishPasskeyLogin200JSONResponse{Ok: true, Data: restapi.LoginResult{User: user(res.User), Token: res.Token, ExpiresAt: apitime.From(res.ExpiresAt)}}, nil
}
