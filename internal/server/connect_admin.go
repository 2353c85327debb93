package server

import (
	"context"

	"connectrpc.com/connect"

	"panguard.ai/auth/internal/auth"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// adminServer is the Connect adapter of the admin plane; the domain decides who may call it.
type adminServer struct {
	auth *auth.Service
}

var _ authv1connect.AdminServiceHandler = (*adminServer)(nil)

// tierName is the domain name of an RPC tier: "" for unspecified, and a name the domain
// refuses for a number no tier has.
func tierName(t authv1.Tier) string {
	if t == authv1.Tier_TIER_UNSPECIFIED {
		return ""
	}
	for name, v := range tiers {
		if v == t {
			return string(name)
		}
	}
	return t.String()
}

// rpcAdminUser is the one RPC encoding of an account as an admin sees it.
func rpcAdminUser(a auth.AdminUser) *authv1.AdminUser {
	out := &authv1.AdminUser{
		User: rpcUser(a.Profile), Suspended: a.Suspended(), SuspendedAt: ts(a.SuspendedAt),
		SuspendedReason: a.SuspendedReason, LastLoginAt: ts(a.LastLoginAt),
	}
	if a.SessionCount >= 0 {
		n := int32(a.SessionCount)
		out.SessionCount = &n
	}
	return out
}

// ListUsers implements RPC ListUsers.
func (s *adminServer) ListUsers(ctx context.Context, req *connect.Request[authv1.ListUsersRequest]) (*connect.Response[authv1.ListUsersResponse], error) {
	m := req.Msg
	page, err := s.auth.ListUsers(ctx, principal(ctx), auth.UserQuery{Query: m.Query, Tier: tierName(m.Tier), Limit: limitOf(m.Limit), Cursor: m.Cursor})
	if err != nil {
		return nil, err
	}
	out := &authv1.ListUsersResponse{Users: make([]*authv1.AdminUser, len(page.Users)), NextCursor: page.NextCursor}
	for i, u := range page.Users {
		out.Users[i] = rpcAdminUser(u)
	}
	return connect.NewResponse(out), nil
}

// GetUser implements RPC GetUser.
func (s *adminServer) GetUser(ctx context.Context, req *connect.Request[authv1.GetUserRequest]) (*connect.Response[authv1.GetUserResponse], error) {
	u, err := s.auth.GetUser(ctx, principal(ctx), req.Msg.UserId)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.GetUserResponse{User: rpcAdminUser(u)}), nil
}

// SetPlan implements RPC SetPlan.
func (s *adminServer) SetPlan(ctx context.Context, req *connect.Request[authv1.SetPlanRequest]) (*connect.Response[authv1.SetPlanResponse], error) {
	m := req.Msg
	in := auth.PlanInput{Tier: tierName(m.Tier)}
	if m.PlanExpiresAt != nil {
		t := m.PlanExpiresAt.AsTime()
		in.PlanExpiresAt = &t
	}
	u, err := s.auth.SetPlan(ctx, principal(ctx), m.UserId, in)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.SetPlanResponse{User: rpcAdminUser(u)}), nil
}

// SuspendUser implements RPC SuspendUser.
func (s *adminServer) SuspendUser(ctx context.Context, req *connect.Request[authv1.SuspendUserRequest]) (*connect.Response[authv1.SuspendUserResponse], error) {
	u, err := s.auth.SuspendUser(ctx, principal(ctx), req.Msg.UserId, req.Msg.Reason)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.SuspendUserResponse{User: rpcAdminUser(u)}), nil
}

// UnsuspendUser implements RPC UnsuspendUser.
func (s *adminServer) UnsuspendUser(ctx context.Context, req *connect.Request[authv1.UnsuspendUserRequest]) (*connect.Response[authv1.UnsuspendUserResponse], error) {
	u, err := s.auth.UnsuspendUser(ctx, principal(ctx), req.Msg.UserId)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.UnsuspendUserResponse{User: rpcAdminUser(u)}), nil
}

// RevokeUserSessions implements RPC RevokeUserSessions.
func (s *adminServer) RevokeUserSessions(ctx context.Context, req *connect.Request[authv1.RevokeUserSessionsRequest]) (*connect.Response[authv1.RevokeUserSessionsResponse], error) {
	n, err := s.auth.RevokeUserSessions(ctx, principal(ctx), req.Msg.UserId)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.RevokeUserSessionsResponse{Revoked: int32(n)}), nil
}

// ResetUserTotp implements RPC ResetUserTotp.
func (s *adminServer) ResetUserTotp(ctx context.Context, req *connect.Request[authv1.ResetUserTotpRequest]) (*connect.Response[authv1.ResetUserTotpResponse], error) {
	u, err := s.auth.ResetUserTotp(ctx, principal(ctx), req.Msg.UserId, req.Msg.Reason)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ResetUserTotpResponse{User: rpcAdminUser(u)}), nil
}

// DeleteUser implements RPC DeleteUser.
func (s *adminServer) DeleteUser(ctx context.Context, req *connect.Request[authv1.DeleteUserRequest]) (*connect.Response[authv1.DeleteUserResponse], error) {
	if err := s.auth.DeleteUser(ctx, principal(ctx), req.Msg.UserId); err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.DeleteUserResponse{Message: auth.MsgUserDeleted}), nil
}

// ListAudit implements RPC ListAudit.
func (s *adminServer) ListAudit(ctx context.Context, req *connect.Request[authv1.ListAuditRequest]) (*connect.Response[authv1.ListAuditResponse], error) {
	m := req.Msg
	page, err := s.auth.ListAudit(ctx, principal(ctx), auth.AuditQuery{UserID: m.UserId, Type: m.Type, Limit: limitOf(m.Limit), Cursor: m.Cursor})
	if err != nil {
		return nil, err
	}
	evs := rpcEvents(page.Events)
	for i, e := range page.Events {
		evs[i].UserId = e.UserID
	}
	return connect.NewResponse(&authv1.ListAuditResponse{Events: evs, NextCursor: page.NextCursor}), nil
}
