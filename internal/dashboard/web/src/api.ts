// The dashboard's only way to the service: the generated client (@panguard/auth-web) over
// Connect. Sign-in RPCs ask for the session in an HttpOnly cookie (`Panguard-Session: cookie`),
// so the token never reaches this code: the Login and Register answers carry an empty token,
// and every later call rides on the cookie, which the service accepts only on Connect requests.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { AdminService, AuthService, DeviceService, PasskeyService } from "@panguard/auth-web";

const cookieSession: Interceptor = (next) => (req) => {
  if (req.method.name === "Login" || req.method.name === "Register" || req.method.name === "FinishPasskeyLogin") {
    req.header.set("Panguard-Session", "cookie");
  }
  return next(req);
};

const transport = createConnectTransport({
  baseUrl: "/",
  interceptors: [cookieSession],
  fetch: (input, init) => globalThis.fetch(input, { ...init, credentials: "same-origin" }),
});

export const auth = createClient(AuthService, transport);
export const admin = createClient(AdminService, transport);
export const device = createClient(DeviceService, transport);
export const passkeys = createClient(PasskeyService, transport);

/** The stable reason of a service error: the google.rpc.ErrorInfo detail's `reason`. */
export function reasonOf(err: unknown): string {
  const e = ConnectError.from(err);
  for (const d of e.details) {
    if ("type" in d && d.type === "google.rpc.ErrorInfo") {
      const r = new BinaryReader(d.value);
      while (r.pos < r.len) {
        const [field, wire] = r.tag();
        if (field === 1 && wire === 2) return r.string();
        r.skip(wire);
      }
    }
  }
  return "";
}

const reasons: Record<string, string> = {
  invalid_credentials: "That email and password do not match an account.",
  invalid_password: "Your current password is not right.",
  invalid_totp_code: "That code is not right. Codes change every 30 seconds; try the newest one.",
  totp_required: "Enter a code from your authenticator app or a backup code.",
  totp_not_setup: "Start two-factor setup again.",
  totp_not_enabled: "Two-factor authentication is not on.",
  already_enabled: "Two-factor authentication is already on.",
  invalid_reset_token: "This reset link is invalid, used or expired. Ask for a new one.",
  invalid_token: "This link is invalid, used or expired.",
  email_taken: "That address already belongs to an account.",
  account_suspended: "This account is suspended. Contact support.",
  rate_limited: "Too many attempts. Wait a minute and try again.",
  unauthenticated: "Your session has ended. Sign in again.",
  forbidden: "You are not allowed to do that.",
  not_found: "Not found. It may have been removed already.",
  conflict: "That cannot be done to your own account.",
  unavailable: "The service is busy. Try again in a moment.",
  internal: "Something went wrong on our side. Try again.",
  invalid_passkey: "That passkey could not be verified. Try again, or use your password.",
  invalid_challenge: "The passkey request expired. Try again.",
};

/** A sentence for the person at the keyboard: never a raw code. */
export function describe(err: unknown): string {
  if (err instanceof Error && !(err instanceof ConnectError) && err.name === "Error") return err.message;
  const e = ConnectError.from(err);
  const reason = reasonOf(e);
  if (reason === "validation_failed" && e.rawMessage) return e.rawMessage;
  if (reasons[reason]) return reasons[reason];
  if (e.code === Code.Unavailable || e.code === Code.Unknown) return "Could not reach the service. Check your connection and try again.";
  return e.rawMessage || "Something went wrong. Try again.";
}

export function isUnauthenticated(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Unauthenticated;
}
