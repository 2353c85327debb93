// Security: two-factor authentication, password, sessions, activity.
import { useEffect, useRef, useState } from "preact/hooks";
import QRCode from "qrcode";
import type { ActivityEvent, GetTotpStatusResponse, Session as Sess, SetupTotpResponse, User } from "@panguard/auth-web";
import { auth, describe } from "../api";
import type { Session } from "../session";
import { Card, Field, Form, Loading, download, fmtDate, useReauth } from "../ui";
import { Passkeys } from "./passkeys";

function Qr(p: { text: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (ref.current) QRCode.toCanvas(ref.current, p.text, { margin: 2, width: 200, errorCorrectionLevel: "M" }).catch(() => {});
  }, [p.text]);
  return <canvas ref={ref} class="qr" width={200} height={200} role="img" aria-label="QR code for your authenticator app" />;
}

function BackupCodes(p: { codes: string[] }) {
  const [copied, setCopied] = useState("");
  const text = p.codes.join("\n") + "\n";
  return (
    <div class="backup">
      <p>
        <strong>Save these backup codes now.</strong> Each signs you in once if you lose your authenticator. They are shown only this time.
      </p>
      <ul class="codes" aria-label="Backup codes">
        {p.codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <div class="actions">
        <button
          type="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(text);
              setCopied("Copied.");
            } catch {
              setCopied("Could not copy; select the codes and copy them by hand.");
            }
          }}
        >
          Copy codes
        </button>
        <button type="button" onClick={() => download("panguard-backup-codes.txt", "text/plain", text)}>
          Download codes
        </button>
      </div>
      <p class="muted" aria-live="polite">
        {copied}
      </p>
    </div>
  );
}

function TwoFactor(p: { session: Session; me: User }) {
  const [status, setStatus] = useState<GetTotpStatusResponse | null>(null);
  const [error, setError] = useState("");
  const [setup, setSetup] = useState<SetupTotpResponse | null>(null);
  const [codes, setCodes] = useState<string[]>([]);
  const [code, setCode] = useState("");
  const load = () =>
    auth.getTotpStatus({}).then(setStatus, (e) => setError(describe(e)));
  useEffect(() => {
    load();
  }, []);
  const regen = useReauth(true);
  const disable = useReauth(true);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!status) return <Loading what="two-factor status" />;
  if (!status.enabled && !setup) {
    return (
      <>
        {codes.length > 0 && <BackupCodes codes={codes} />}
        <p>Two-factor authentication is <strong>off</strong>. Turn it on so a stolen password is not enough to sign in.</p>
        <Form
          label="Turn on two-factor authentication"
          submit="Set up two-factor authentication"
          busyText="Starting…"
          onSubmit={async () => {
            setSetup(await auth.setupTotp({}));
            setCodes([]);
          }}
        >
          {null}
        </Form>
      </>
    );
  }
  if (setup) {
    return (
      <div class="setup">
        <ol class="steps">
          <li>
            <p>Scan this QR code with your authenticator app.</p>
            <Qr text={setup.otpauthUrl} />
            <p>
              Or enter this key by hand: <code class="secret" data-testid="totp-secret">{setup.secret}</code>
            </p>
          </li>
          <li>
            <BackupCodes codes={setup.backupCodes} />
          </li>
          <li>
            <Form
              label="Confirm two-factor authentication"
              submit="Turn on"
              busyText="Checking…"
              onSubmit={async () => {
                await auth.verifyTotp({ totpCode: code.trim() });
                setSetup(null);
                setCode("");
                await Promise.all([load(), p.session.refresh()]);
              }}
            >
              <Field label="Code from your app" name="totpCode" value={code} onInput={setCode} autocomplete="one-time-code" inputMode="numeric" />
            </Form>
          </li>
        </ol>
      </div>
    );
  }
  return (
    <>
      <p>
        Two-factor authentication is <strong>on</strong>. {status.backupCodesRemaining} backup {status.backupCodesRemaining === 1 ? "code" : "codes"} left.
      </p>
      {codes.length > 0 && <BackupCodes codes={codes} />}
      <details>
        <summary>New backup codes</summary>
        <p class="muted">Makes a new set of 10 codes; the old ones stop working.</p>
        <Form
          label="New backup codes"
          submit="Make new backup codes"
          onSubmit={async () => {
            const r = await auth.regenerateBackupCodes({ password: regen.password, ...regen.codes });
            regen.reset();
            setCodes(r.backupCodes);
            load();
          }}
        >
          {regen.fields}
        </Form>
      </details>
      <details>
        <summary>Turn off two-factor authentication</summary>
        <Form
          label="Turn off two-factor authentication"
          submit="Turn off"
          danger
          onSubmit={async () => {
            await auth.disableTotp({ password: disable.password, ...disable.codes });
            disable.reset();
            setCodes([]);
            await Promise.all([load(), p.session.refresh()]);
          }}
        >
          {disable.fields}
        </Form>
      </details>
    </>
  );
}

function ChangePassword(p: { me: User }) {
  const re = useReauth(p.me.totpEnabled);
  const [pw, setPw] = useState("");
  return (
    <Form
      label="Change password"
      submit="Change password"
      busyText="Saving…"
      onSubmit={async () => {
        await auth.changePassword({ currentPassword: re.password, newPassword: pw, totpCode: re.codes.totpCode, backupCode: re.codes.backupCode });
        re.reset();
        setPw("");
        return "Password changed. Your other sessions were signed out.";
      }}
    >
      {re.fields}
      <Field label="New password" name="newPassword" type="password" value={pw} onInput={setPw} autocomplete="new-password" minLength={8} hint="At least 8 characters." />
    </Form>
  );
}

export function Security(p: { session: Session; me: User }) {
  return (
    <>
      <h1>Security</h1>
      <Card title="Two-factor authentication">
        <TwoFactor session={p.session} me={p.me} />
      </Card>
      <Card title="Passkeys">
        <Passkeys me={p.me} />
      </Card>
      <Card title="Password">
        <ChangePassword me={p.me} />
      </Card>
    </>
  );
}

function describeAgent(ua: string): string {
  if (!ua) return "Unknown device";
  const browser = /Edg\//.test(ua) ? "Edge" : /Chrom(e|ium)\//.test(ua) ? "Chrome" : /Firefox\//.test(ua) ? "Firefox" : /Safari\//.test(ua) ? "Safari" : "";
  const os = /Windows/.test(ua) ? "Windows" : /Mac OS X/.test(ua) ? "macOS" : /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Linux/.test(ua) ? "Linux" : "";
  return browser || os ? [browser, os].filter(Boolean).join(" on ") : ua.slice(0, 60);
}

export function Sessions(p: { session: Session }) {
  const [list, setList] = useState<Sess[] | null>(null);
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const load = () =>
    auth.listSessions({}).then(
      (r) => setList(r.sessions),
      (e) => setError(describe(e)),
    );
  useEffect(() => {
    load();
  }, []);
  const act = async (f: () => Promise<string>) => {
    setError("");
    setNote("");
    try {
      setNote(await f());
      await load();
    } catch (e) {
      setError(describe(e));
    }
  };
  return (
    <>
      <h1>Sessions</h1>
      <Card title="Where you are signed in">
        <div class="status" aria-live="polite">
          {error && <p class="error" role="alert">{error}</p>}
          {note && <p class="ok">{note}</p>}
        </div>
        {!list ? (
          <Loading what="sessions" />
        ) : (
          <>
            <ul class="rows">
              {list.map((s) => (
                <li key={s.id} class="row">
                  <div>
                    <strong>{describeAgent(s.userAgent)}</strong> {s.current && <span class="badge good">This browser</span>}
                    <p class="muted">
                      {s.ip || "unknown address"} · signed in {fmtDate(s.createdAt)} with {s.method || "password"} · last seen {fmtDate(s.lastSeenAt)}
                    </p>
                  </div>
                  {!s.current && (
                    <button type="button" onClick={() => act(async () => (await auth.revokeSession({ id: s.id }), "Session signed out."))} aria-label={`Sign out session ${describeAgent(s.userAgent)} from ${s.ip || "unknown address"}, started ${fmtDate(s.createdAt)}`}>
                      Sign out
                    </button>
                  )}
                </li>
              ))}
            </ul>
            {list.length > 1 && (
              <div class="actions">
                <button type="button" onClick={() => act(async () => `${(await auth.revokeOtherSessions({})).revoked} other sessions signed out.`)}>
                  Sign out everywhere else
                </button>
              </div>
            )}
          </>
        )}
      </Card>
    </>
  );
}

const eventNames: Record<string, string> = {
  registered: "Account created",
  login: "Signed in",
  login_failed: "Failed sign-in",
  logout: "Signed out",
  session_revoked: "Session signed out",
  password_changed: "Password changed",
  password_reset: "Password reset",
  totp_enabled: "Two-factor turned on",
  totp_disabled: "Two-factor turned off",
  backup_codes_regenerated: "New backup codes",
  backup_code_used: "Backup code used",
  email_verified: "Email verified",
  email_change_requested: "Email change requested",
  email_changed: "Email changed",
  passkey_added: "Passkey added",
  passkey_removed: "Passkey removed",
  device_approved: "Device approved",
  device_denied: "Device sign-in denied",
  data_exported: "Data exported",
  plan_changed: "Plan changed",
  suspended: "Account suspended",
  unsuspended: "Account restored",
  totp_reset_by_admin: "Two-factor reset by an administrator",
  sessions_revoked_by_admin: "Sessions signed out by an administrator",
};

export function ActivityList(p: { load: (before: string) => Promise<{ events: ActivityEvent[]; nextCursor: string }>; showUser?: boolean }) {
  const [events, setEvents] = useState<ActivityEvent[] | null>(null);
  const [cursor, setCursor] = useState("");
  const [error, setError] = useState("");
  const more = async (before: string) => {
    try {
      const r = await p.load(before);
      setEvents((old) => [...(before ? (old ?? []) : []), ...r.events]);
      setCursor(r.nextCursor);
    } catch (e) {
      setError(describe(e));
    }
  };
  useEffect(() => {
    more("");
  }, [p.load]);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!events) return <Loading what="activity" />;
  if (events.length === 0) return <p class="muted">Nothing yet.</p>;
  return (
    <>
      <ul class="rows">
        {events.map((e) => (
          <li key={e.id} class="row">
            <div>
              <strong>{eventNames[e.type] ?? e.type}</strong>
              {e.actor && e.actor !== "self" && <span class="badge">{e.actor === "system" ? "by the system" : "by an administrator"}</span>}
              <p class="muted">
                {fmtDate(e.at)} · {e.ip || "unknown address"} · {describeAgent(e.userAgent)}
                {p.showUser && e.userId ? ` · ${e.userId}` : ""}
              </p>
            </div>
          </li>
        ))}
      </ul>
      {cursor && (
        <div class="actions">
          <button type="button" onClick={() => more(cursor)}>
            Show older
          </button>
        </div>
      )}
    </>
  );
}

const loadMine = (before: string) => auth.listActivity({ limit: 25, before });

export function Activity() {
  return (
    <>
      <h1>Activity</h1>
      <Card title="Security events">
        <ActivityList load={loadMine} />
      </Card>
    </>
  );
}
