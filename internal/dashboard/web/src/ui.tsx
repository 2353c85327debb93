// Shared pieces: forms with their errors in words next to them, labelled fields, dates.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { describe } from "./api";

let nextId = 0;
export function useId(prefix: string): string {
  const [id] = useState(() => `${prefix}-${++nextId}`);
  return id;
}

type FieldProps = {
  label: string;
  name: string;
  type?: "text" | "email" | "password" | "search" | "date";
  value: string;
  onInput: (v: string) => void;
  autocomplete?: string;
  required?: boolean;
  hint?: string;
  minLength?: number;
  inputMode?: "numeric" | "text" | "email";
};

export function Field(p: FieldProps) {
  const id = useId(p.name);
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <input
        id={id}
        name={p.name}
        type={(p.type ?? "text") as "text"}
        value={p.value}
        onInput={(e) => p.onInput((e.currentTarget as HTMLInputElement).value)}
        autocomplete={p.autocomplete}
        required={p.required ?? true}
        minLength={p.minLength}
        inputMode={p.inputMode}
        aria-describedby={p.hint ? id + "-hint" : undefined}
      />
      {p.hint && (
        <p class="hint" id={id + "-hint"}>
          {p.hint}
        </p>
      )}
    </div>
  );
}

type FormProps = {
  label: string;
  submit: string;
  busyText?: string;
  onSubmit: () => Promise<string | void>;
  children: ComponentChildren;
  danger?: boolean;
};

/** A form whose submit runs onSubmit; its error (in words) or success message shows below it. */
export function Form(p: FormProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [done, setDone] = useState("");
  return (
    <form
      aria-label={p.label}
      onSubmit={async (e) => {
        e.preventDefault();
        if (busy) return;
        setBusy(true);
        setError("");
        setDone("");
        try {
          const msg = await p.onSubmit();
          if (msg) setDone(msg);
        } catch (err) {
          setError(describe(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      {p.children}
      <div class="actions">
        <button type="submit" class={p.danger ? "danger" : "primary"} disabled={busy}>
          {busy ? (p.busyText ?? "Working…") : p.submit}
        </button>
      </div>
      <div class="status" aria-live="polite">
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {done && <p class="ok">{done}</p>}
      </div>
    </form>
  );
}

export function Card(p: { title: string; children: ComponentChildren; id?: string }) {
  const id = useId("card");
  return (
    <section class="card" aria-labelledby={id} id={p.id}>
      <h2 id={id}>{p.title}</h2>
      {p.children}
    </section>
  );
}

export function fmtDate(t?: Timestamp): string {
  if (!t) return "—";
  return timestampDate(t).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function Loading(p: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {p.what}…
    </p>
  );
}

/** The re-authentication fields: current password, and a code when 2FA is on. */
export function useReauth(totp: boolean) {
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const fields = (
    <>
      <Field label="Current password" name="password" type="password" value={password} onInput={setPassword} autocomplete="current-password" />
      {totp && (
        <Field
          label="Authenticator code or backup code"
          name="code"
          value={code}
          onInput={setCode}
          autocomplete="one-time-code"
          hint="The 6-digit code from your app, or one of your backup codes."
        />
      )}
    </>
  );
  const c = code.trim();
  const codes = !totp || !c ? {} : /^\d{6}$/.test(c) ? { totpCode: c } : { backupCode: c };
  const reset = () => {
    setPassword("");
    setCode("");
  };
  return { fields, password, codes, reset };
}

export function download(name: string, type: string, body: string) {
  const url = URL.createObjectURL(new Blob([body], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
