// Approve a CLI sign-in (OAuth 2.0 device authorization grant): the person types (or follows
// a link carrying) the code their terminal shows, checks which device asks, from where and
// when, then approves or denies. Signed-in only: the router sends others through sign-in
// (with 2FA) and back here with the code.
import { useEffect, useState } from "preact/hooks";
import type { LookupDeviceResponse, User } from "@panguard/auth-web";
import { describe, device, reasonOf } from "../api";
import { Field, Form, fmtDate } from "../ui";

function explain(err: unknown): string {
  if (reasonOf(err) === "not_found") {
    return "No sign-in request is waiting with this code. Check it against your terminal; codes expire after 10 minutes, so you may need to run the command again.";
  }
  return describe(err);
}

export function Device(p: { url: URL; me: User }) {
  const given = p.url.searchParams.get("code") ?? "";
  const [code, setCode] = useState(given);
  const [req, setReq] = useState<LookupDeviceResponse | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [outcome, setOutcome] = useState<"approved" | "denied" | null>(null);

  const lookup = async (c: string) => {
    setReq(await device.lookupDevice({ userCode: c }));
  };
  useEffect(() => {
    // A link from the terminal carries the code: look it up at once (approving still takes a click).
    if (given) lookup(given).catch((err) => setError(explain(err)));
  }, [given]);

  const decide = async (approve: boolean) => {
    if (!req || busy) return;
    setBusy(true);
    setError("");
    try {
      await device.approveDevice({ userCode: req.userCode, approve });
      setOutcome(approve ? "approved" : "denied");
    } catch (err) {
      setError(explain(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Sign in a device</h1>
      {outcome === "approved" ? (
        <p class="ok" role="status">
          Approved. <strong>{req?.clientName}</strong> is now signed in to your account; go back to your terminal. You can sign it out at any time under <a href="/sessions">Sessions</a>.
        </p>
      ) : outcome === "denied" ? (
        <p class="ok" role="status">
          Denied. The device was not signed in.
        </p>
      ) : req ? (
        <section aria-label="Sign-in request">
          <p>
            A device asks to sign in to your account <strong>{p.me.email}</strong>. Approve only if you started this yourself, just now, and the details match.
          </p>
          <dl class="facts">
            <div>
              <dt>Code</dt>
              <dd>
                <code>{req.userCode}</code>
              </dd>
            </div>
            <div>
              <dt>Device</dt>
              <dd>{req.clientName}</dd>
            </div>
            <div>
              <dt>IP address</dt>
              <dd>{req.ip}</dd>
            </div>
            <div>
              <dt>Requested</dt>
              <dd>{fmtDate(req.requestedAt)}</dd>
            </div>
            <div>
              <dt>Expires</dt>
              <dd>{fmtDate(req.expiresAt)}</dd>
            </div>
          </dl>
          <div class="actions">
            <button type="button" class="primary" disabled={busy} onClick={() => decide(true)}>
              Approve
            </button>
            <button type="button" class="danger" disabled={busy} onClick={() => decide(false)}>
              Deny
            </button>
          </div>
        </section>
      ) : (
        <Form
          label="Find the sign-in request"
          submit="Continue"
          busyText="Looking…"
          onSubmit={async () => {
            setError("");
            try {
              await lookup(code);
            } catch (err) {
              // Worded for this page; thrown as a plain Error so the form shows it as is.
              throw new Error(explain(err));
            }
          }}
        >
          <p>Enter the code your terminal shows (for example after <code>panguard login --web</code>).</p>
          <Field label="Code" name="userCode" value={code} onInput={setCode} autocomplete="off" hint="8 letters, like BCDF-GHJK. Upper or lower case, the dash is optional." />
        </Form>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
