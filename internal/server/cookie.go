package server

import (
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
)

// The dashboard's session: after a sign-in RPC asking for it (request header
// `Panguard-Session: cookie`), the token travels only in an HttpOnly, SameSite=Strict cookie,
// out of reach of page scripts. The cookie is accepted only on Connect and gRPC-web requests
// that carry `Connect-Protocol-Version` or `X-Grpc-Web`: a cross-site form or simple request
// cannot set those headers, so it cannot ride on the cookie. REST never reads it.

const (
	sessionCookieName   = "panguard_session"
	sessionCookieHeader = "Panguard-Session"
)

// sessionCookies makes and reads the dashboard's session cookie.
type sessionCookies struct {
	// secure adds the Secure attribute (the public URL is https).
	secure bool
}

// wanted reports whether a sign-in RPC asks for its token in the cookie: it must say so, and
// come over a protocol browsers speak.
func (sessionCookies) wanted(req connect.AnyRequest) bool {
	p := req.Peer().Protocol
	return strings.EqualFold(req.Header().Get(sessionCookieHeader), "cookie") &&
		(p == connect.ProtocolConnect || p == connect.ProtocolGRPCWeb)
}

// set puts token in the cookie, for as long as the session lives.
func (c sessionCookies) set(h http.Header, token string, expires time.Time) {
	ck := &http.Cookie{
		Name: sessionCookieName, Value: token, Path: "/", HttpOnly: true, Secure: c.secure,
		SameSite: http.SameSiteStrictMode, Expires: expires, MaxAge: max(1, int(time.Until(expires).Seconds())),
	}
	h.Add("Set-Cookie", ck.String())
}

// clear tells the browser to drop the cookie.
func (c sessionCookies) clear(h http.Header) {
	ck := &http.Cookie{Name: sessionCookieName, Value: "", Path: "/", HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode, MaxAge: -1}
	h.Add("Set-Cookie", ck.String())
}

// token is the session token of the cookie on a request that may carry it: a Connect or
// gRPC-web request with the header that proves it was not a cross-site simple request.
func (sessionCookies) token(h http.Header) string {
	if h.Get("Connect-Protocol-Version") == "" && h.Get("X-Grpc-Web") == "" {
		return ""
	}
	r := http.Request{Header: http.Header{"Cookie": h.Values("Cookie")}}
	ck, err := r.Cookie(sessionCookieName)
	if err != nil {
		return ""
	}
	return ck.Value
}
