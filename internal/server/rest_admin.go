package server

import (
	"context"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/server/restapi"
	"panguard.ai/auth/sdk/apitime"
)

// adminUser is the one REST encoding of an account as an admin sees it.
func adminUser(a auth.AdminUser) restapi.AdminUser {
	out := restapi.AdminUser{
		Id: a.ID, Email: a.Email, Name: a.Name, Tier: restapi.Tier(a.Tier), Role: restapi.AdminUserRole(a.Role),
		EmailVerified: a.EmailVerified, TotpEnabled: a.TOTPEnabled, Suspended: a.Suspended(),
		CreatedAt: apitime.From(a.CreatedAt), UpdatedAt: apitime.From(a.UpdatedAt), LastLoginAt: apitime.Ptr(a.LastLoginAt),
		MachineLimit: a.MachineLimit, TrialEndsAt: apitime.Ptr(a.TrialEndsAt), PlanExpiresAt: apitime.Ptr(a.PlanExpiresAt),
		SuspendedAt: apitime.Ptr(a.SuspendedAt),
	}
	if a.Suspended() {
		out.SuspendedReason = &a.SuspendedReason
	}
	if a.SessionCount >= 0 {
		out.SessionCount = &a.SessionCount
	}
	return out
}

func adminUserEnvelope(a auth.AdminUser) restapi.AdminUserEnvelope {
	return restapi.AdminUserEnvelope{Ok: true, Data: adminUser(a)}
}

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// ListUsers implements operation listUsers.
func (s *restServer) ListUsers(ctx context.Context, req restapi.ListUsersRequestObject) (restapi.ListUsersResponseObject, error) {
	q := req.Params
	page, err := s.auth.ListUsers(ctx, principal(ctx), auth.UserQuery{Query: deref(q.Query), Tier: deref(q.Tier), Limit: q.Limit, Cursor: deref(q.Cursor)})
	if err != nil {
		return nil, err
	}
	data := restapi.AdminUsers{Users: make([]restapi.AdminUser, len(page.Users))}
	for i, u := range page.Users {
		data.Users[i] = adminUser(u)
	}
	if page.NextCursor != "" {
		data.NextCursor = &page.NextCursor
	}
	return restapi.ListUsers200JSONResponse{Ok: true, Data: data}, nil
}

// GetUser implements operation getUser.
func (s *restServer) GetUser(ctx context.Context, req restapi.GetUserRequestObject) (restapi.GetUserResponseObject, error) {
	u, err := s.auth.GetUser(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return restapi.GetUser200JSONResponse(adminUserEnvelope(u)), nil
}

// SetPlan implements operation setPlan.
func (s *restServer) SetPlan(ctx context.Context, req restapi.SetPlanRequestObject) (restapi.SetPlanResponseObject, error) {
	in := auth.PlanInput{Tier: req.Body.Tier}
	if req.Body.PlanExpiresAt != nil {
		in.PlanExpiresAt = &req.Body.PlanExpiresAt.Time
	}
	u, err := s.auth.SetPlan(ctx, principal(ctx), req.Id, in)
	if err != nil {
		return nil, err
	}
	return restapi.SetPlan200JSONResponse(adminUserEnvelope(u)), nil
}

// SuspendUser implements operation suspendUser.
func (s *restServer) SuspendUser(ctx context.Context, req restapi.SuspendUserRequestObject) (restapi.SuspendUserResponseObject, error) {
	u, err := s.auth.SuspendUser(ctx, principal(ctx), req.Id, req.Body.Reason)
	if err != nil {
		return nil, err
	}
	return restapi.SuspendUser200JSONResponse(adminUserEnvelope(u)), nil
}

// UnsuspendUser implements operation unsuspendUser.
func (s *restServer) UnsuspendUser(ctx context.Context, req restapi.UnsuspendUserRequestObject) (restapi.UnsuspendUserResponseObject, error) {
	u, err := s.auth.UnsuspendUser(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return restapi.UnsuspendUser200JSONResponse(adminUserEnvelope(u)), nil
}

// RevokeUserSessions implements operation revokeUserSessions.
func (s *restServer) RevokeUserSessions(ctx context.Context, req restapi.RevokeUserSessionsRequestObject) (restapi.RevokeUserSessionsResponseObject, error) {
	n, err := s.auth.RevokeUserSessions(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return restapi.RevokeUserSessions200JSONResponse{Ok: true, Data: restapi.Revoked{Revoked: n}}, nil
}

// ResetUserTotp implements operation resetUserTotp.
func (s *restServer) ResetUserTotp(ctx context.Context, req restapi.ResetUserTotpRequestObject) (restapi.ResetUserTotpResponseObject, error) {
	u, err := s.auth.ResetUserTotp(ctx, principal(ctx), req.Id, req.Body.Reason)
	if err != nil {
		return nil, err
	}
	return restapi.ResetUserTotp200JSONResponse(adminUserEnvelope(u)), nil
}

// DeleteUser implements operation deleteUser.
func (s *restServer) DeleteUser(ctx context.Context, req restapi.DeleteUserRequestObject) (restapi.DeleteUserResponseObject, error) {
	if err := s.auth.DeleteUser(ctx, principal(ctx), req.Id); err != nil {
		return nil, err
	}
	return restapi.DeleteUser200JSONResponse(message(auth.MsgUserDeleted)), nil
}

// ListAudit implements operation listAudit.
func (s *restServer) ListAudit(ctx context.Context, req restapi.ListAuditRequestObject) (restapi.ListAuditResponseObject, error) {
	q := req.Params
	page, err := s.auth.ListAudit(ctx, principal(ctx), auth.AuditQuery{UserID: deref(q.UserId), Type: deref(q.Type), Limit: q.Limit, Cursor: deref(q.Cursor)})
	if err != nil {
		return nil, err
	}
	data := restapi.Activity{Events: events(page.Events)}
	for i, e := range page.Events {
		data.Events[i].UserId = &e.UserID
	}
	if page.NextCursor != "" {
		data.NextCursor = &page.NextCursor
	}
	return restapi.ListAudit200JSONResponse{Ok: true, Data: data}, nil
}
