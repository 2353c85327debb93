package server

import (
	"context"

	"panguard.ai/auth/internal/server/restapi"
	"panguard.ai/auth/sdk/apitime"
)

// LookupDevice implements operation lookupDevice.
func (s *restServer) LookupDevice(ctx context.Context, req restapi.LookupDeviceRequestObject) (restapi.LookupDeviceResponseObject, error) {
	d, err := s.auth.LookupDevice(ctx, principal(ctx), req.Params.UserCode)
	if err != nil {
		return nil, err
	}
	return restapi.LookupDevice200JSONResponse{Ok: true, Data: restapi.DeviceRequest{
		UserCode: d.UserCode, ClientName: d.ClientName, Ip: d.IP,
		RequestedAt: apitime.From(d.RequestedAt), ExpiresAt: apitime.From(d.ExpiresAt),
	}}, nil
}

// ApproveDevice implements operation approveDevice.
func (s *restServer) ApproveDevice(ctx context.Context, req restapi.ApproveDeviceRequestObject) (restapi.ApproveDeviceResponseObject, error) {
	msg, err := s.auth.ApproveDevice(ctx, principal(ctx), req.Body.UserCode, req.Body.Approve)
	if err != nil {
		return nil, err
	}
	return restapi.ApproveDevice200JSONResponse(message(msg)), nil
}
