package server

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"panguard.ai/auth/internal/auth"
	authv1 "panguard.ai/auth/sdk/gen/panguard/auth/v1"
	"panguard.ai/auth/sdk/gen/panguard/auth/v1/authv1connect"
)

// deviceServer is the Connect adapter of the dashboard's side of the device grant.
type deviceServer struct {
	auth *auth.Service
}

var _ authv1connect.DeviceServiceHandler = (*deviceServer)(nil)

// LookupDevice implements RPC LookupDevice.
func (s *deviceServer) LookupDevice(ctx context.Context, req *connect.Request[authv1.LookupDeviceRequest]) (*connect.Response[authv1.LookupDeviceResponse], error) {
	d, err := s.auth.LookupDevice(ctx, principal(ctx), req.Msg.UserCode)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.LookupDeviceResponse{
		UserCode: d.UserCode, ClientName: d.ClientName, Ip: d.IP,
		RequestedAt: timestamppb.New(d.RequestedAt), ExpiresAt: timestamppb.New(d.ExpiresAt),
	}), nil
}

// ApproveDevice implements RPC ApproveDevice.
func (s *deviceServer) ApproveDevice(ctx context.Context, req *connect.Request[authv1.ApproveDeviceRequest]) (*connect.Response[authv1.ApproveDeviceResponse], error) {
	msg, err := s.auth.ApproveDevice(ctx, principal(ctx), req.Msg.UserCode, req.Msg.Approve)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&authv1.ApproveDeviceResponse{Message: msg}), nil
}
