// Passkeys: the list on the security page (add with a name, rename, remove — adding and removing
// re-authenticate), and "Sign in with a passkey" on the sign-in page, with the browser's autofill
// (conditional UI) where it has it.
import { useEffect, useState } from "preact/hooks";
import type { Passkey, User } from "@panguard/auth-web";
import { describe, passkeys } from "../api";
import { Field, Form, Loading, fmtDate, useReauth } from "../ui";
import { conditionalMediationAvailable, createPasskey, getPasskey, passkeysSupported } from "../webauthn";

function Rename(p: { pk: Passkey; done: (msg: string) => Promise<void> }) {
  const [name, setName] = useState(p.pk.name);
  return (
    <details>
      <summary>Rename</summary>
      <Form
        label={`Rename passkey ${p.pk.name}`}
        submit="Save name"
        busyText="Saving…"
        onSubmit={async () => {
          const r = await passkeys.renamePasskey({ id: p.pk.id, name });
          await p.done(`Renamed to “${r.passkey?.name ?? name}”.`);
        }}
      >
        <Field label="New name" name="passkeyName" value={name} onInput={setName} autocomplete="off" />
      </Form>
    </details>
  );
}

function Remove(p: { pk: Passkey; me: User; done: (msg: string) => Promise<void> }) {
  const re = useReauth(p.me.totpEnabled);
  return (
    <details>
      <summary>Remove</summary>
      <Form
        label={`Remove passkey ${p.pk.name}`}
        submit="Remove passkey"
        busyText="Removing…"
        danger
        onSubmit={async () => {
          await passkeys.deletePasskey({ id: p.pk.id, password: re.password, ...re.codes });
          re.reset();
          await p.done(`Passkey “${p.pk.name}” removed.`);
        }}
      >
        {re.fields}
      </Form>
    </details>
  );
}

function AddPasskey(p: { me: User; added: (msg: string) => Promise<void> }) {
  const re = useReauth(p.me.totpEnabled);
  const [name, setName] = useState("");
  return (
    <Form
      label="Add a passkey"
      submit="Add a passkey"
      busyText="Waiting for your passkey…"
      onSubmit={async () => {
        const begun = await passkeys.beginPasskeyRegistration({ password: re.password, ...re.codes });
        const credentialJson = await createPasskey(begun.optionsJson);
        const r = await passkeys.finishPasskeyRegistration({ challengeId: begun.challengeId, credentialJson, name });
        re.reset();
        setName("");
        await p.added(`Passkey “${r.passkey?.name ?? name}” added. You can now sign in with it, without your password.`);
      }}
    >
      <Field label="Passkey name" name="passkeyName" value={name} onInput={setName} autocomplete="off" required={false} hint="Something to tell it apart, like “Work laptop”." />
      {re.fields}
    </Form>
  );
}

/** The security page's passkeys card. */
export function Passkeys(p: { me: User }) {
  const [list, setList] = useState<Passkey[] | null>(null);
  const [error, setError] = useState("");
  const [note, setNote] = useState("");
  const load = () =>
    passkeys.listPasskeys({}).then(
      (r) => setList(r.passkeys),
      (e) => setError(describe(e)),
    );
  useEffect(() => {
    load();
  }, []);
  const changed = async (msg: string) => {
    setNote(msg);
    await load();
  };
  if (!passkeysSupported()) return <p class="muted">This browser cannot use passkeys.</p>;
  return (
    <>
      <p class="muted">A passkey signs you in with your device's screen lock or security key instead of a password, and counts as both factors.</p>
      <div class="status" aria-live="polite">
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {note && <p class="ok">{note}</p>}
      </div>
      {!list ? (
        <Loading what="passkeys" />
      ) : list.length === 0 ? (
        <p>You have no passkeys yet.</p>
      ) : (
        <ul class="rows" aria-label="Your passkeys">
          {list.map((pk) => (
            <li key={pk.id} class="row">
              <div>
                <strong>{pk.name}</strong>
                <p class="muted">
                  Added {fmtDate(pk.createdAt)} · {pk.lastUsedAt ? `last used ${fmtDate(pk.lastUsedAt)}` : "never used"}
                </p>
                <Rename pk={pk} done={changed} />
                <Remove pk={pk} me={p.me} done={changed} />
              </div>
            </li>
          ))}
        </ul>
      )}
      <details>
        <summary>Add a passkey</summary>
        <AddPasskey me={p.me} added={changed} />
      </details>
    </>
  );
}

/** "Sign in with a passkey" (a button named "Use a passkey", so that it never shares a name
 * with the password form's "Sign in"), plus the passkey offer in the email field's autofill where the
 * browser supports conditional UI (the field must say autocomplete="username webauthn"). */
export function PasskeySignIn(p: { onSignedIn: (u: User) => void }) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [conditional, setConditional] = useState<AbortController | null>(null);
  const finish = async (challengeId: string, credentialJson: string) => {
    const r = await passkeys.finishPasskeyLogin({ challengeId, credentialJson });
    if (r.user) p.onSignedIn(r.user);
  };
  useEffect(() => {
    const ac = new AbortController();
    (async () => {
      if (!(await conditionalMediationAvailable()) || ac.signal.aborted) return;
      setConditional(ac);
      const begun = await passkeys.beginPasskeyLogin({});
      const cred = await getPasskey(begun.optionsJson, true, ac.signal);
      await finish(begun.challengeId, cred);
    })().catch((e) => {
      if (!ac.signal.aborted && e?.name !== "AbortError") setError(describe(e));
    });
    return () => ac.abort();
  }, []);
  if (!passkeysSupported()) return null;
  return (
    <div>
      <p class="muted">Or sign in with a passkey, without your password:</p>
      <div class="actions">
        <button
          type="button"
          disabled={busy}
          onClick={async () => {
            // Only one WebAuthn request at a time: the autofill offer gives way to the dialog.
            conditional?.abort();
            setBusy(true);
            setError("");
            try {
              const begun = await passkeys.beginPasskeyLogin({});
              await finish(begun.challengeId, await getPasskey(begun.optionsJson));
            } catch (e) {
              setError(describe(e));
            } finally {
              setBusy(false);
            }
          }}
        >
          {busy ? "Waiting for your passkey…" : "Use a passkey"}
        </button>
      </div>
      <div class="status" aria-live="polite">
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </div>
    </div>
  );
}
