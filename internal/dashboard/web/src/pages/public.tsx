// The pages for people not signed in, and the pages emailed links open.
import { useState } from "preact/hooks";
import { auth } from "../api";
import { navigate } from "../router";
import { Field, Form } from "../ui";
import type { Session } from "../session";
import { PasskeySignIn } from "./passkeys";

function safeNext(url: URL): string {
  const n = url.searchParams.get("next") ?? "/";
  return n.startsWith("/") && !n.startsWith("//") ? n : "/";
}

export function SignIn(p: { session: Session; url: URL }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [step, setStep] = useState<"password" | "totp" | "backup">("password");
  const [code, setCode] = useState("");
  const submit = async () => {
    const req =
      step === "password"
        ? { email, password }
        : step === "totp"
          ? { email, password, totpCode: code.trim() }
          : { email, password, backupCode: code.trim() };
    const r = await auth.login(req);
    if (r.totpRequired) {
      setStep("totp");
      return;
    }
    p.session.setMe(r.user ?? null);
    navigate(safeNext(p.url), true);
  };
  return (
    <div class="narrow">
      <h1>Sign in</h1>
      {step === "password" ? (
        <Form label="Sign in" submit="Sign in" busyText="Signing in…" onSubmit={submit}>
          <Field label="Email" name="email" type="email" value={email} onInput={setEmail} autocomplete="username webauthn" inputMode="email" />
          <Field label="Password" name="password" type="password" value={password} onInput={setPassword} autocomplete="current-password" />
        </Form>
      ) : (
        <Form label="Two-factor authentication" submit="Verify" busyText="Verifying…" onSubmit={submit}>
          <p>Your account has two-factor authentication.</p>
          {step === "totp" ? (
            <Field label="Authenticator code" name="totpCode" value={code} onInput={setCode} autocomplete="one-time-code" inputMode="numeric" hint="The 6-digit code from your authenticator app." />
          ) : (
            <Field label="Backup code" name="backupCode" value={code} onInput={setCode} autocomplete="off" hint="One of the codes you saved when you turned on two-factor authentication. Each works once." />
          )}
          <button
            type="button"
            class="link"
            onClick={() => {
              setCode("");
              setStep(step === "totp" ? "backup" : "totp");
            }}
          >
            {step === "totp" ? "Use a backup code instead" : "Use an authenticator code instead"}
          </button>
        </Form>
      )}
      {step === "password" && (
        <PasskeySignIn
          onSignedIn={(u) => {
            p.session.setMe(u);
            navigate(safeNext(p.url), true);
          }}
        />
      )}
      <p class="links">
        <a href="/forgot-password">Forgot your password?</a> · <a href="/sign-up">Create an account</a>
      </p>
    </div>
  );
}

export function SignUp(p: { session: Session }) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  return (
    <div class="narrow">
      <h1>Create your account</h1>
      <p class="muted">Every new account starts with a 14-day trial of the Solo plan.</p>
      <Form
        label="Create your account"
        submit="Create account"
        busyText="Creating…"
        onSubmit={async () => {
          const r = await auth.register({ name, email, password });
          if (r.user) {
            p.session.setMe(r.user);
            navigate("/", true);
            return;
          }
          return r.message || "Check your email to continue.";
        }}
      >
        <Field label="Name" name="name" value={name} onInput={setName} autocomplete="name" />
        <Field label="Email" name="email" type="email" value={email} onInput={setEmail} autocomplete="email" inputMode="email" />
        <Field label="Password" name="password" type="password" value={password} onInput={setPassword} autocomplete="new-password" minLength={8} hint="At least 8 characters." />
      </Form>
      <p class="links">
        Already have an account? <a href="/sign-in">Sign in</a>
      </p>
    </div>
  );
}

export function ForgotPassword() {
  const [email, setEmail] = useState("");
  return (
    <div class="narrow">
      <h1>Forgot your password?</h1>
      <p class="muted">We will email you a link to choose a new one.</p>
      <Form
        label="Reset your password"
        submit="Email me a link"
        busyText="Sending…"
        onSubmit={async () => {
          const r = await auth.forgotPassword({ email });
          return r.message || "If an account uses that address, a link is on its way.";
        }}
      >
        <Field label="Email" name="email" type="email" value={email} onInput={setEmail} autocomplete="email" inputMode="email" />
      </Form>
      <p class="links">
        <a href="/sign-in">Back to sign in</a>
      </p>
    </div>
  );
}

function MissingToken() {
  return (
    <p class="error" role="alert">
      This link is incomplete. Open the link from your email again, or copy all of it into the address bar.
    </p>
  );
}

export function ResetPassword(p: { url: URL; session: Session }) {
  const token = p.url.searchParams.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [done, setDone] = useState(false);
  return (
    <div class="narrow">
      <h1>Choose a new password</h1>
      {!token ? (
        <MissingToken />
      ) : done ? (
        <p class="ok" role="status">
          Your password is changed and every session was signed out. <a href="/sign-in">Sign in</a> with the new password.
        </p>
      ) : (
        <Form
          label="Choose a new password"
          submit="Set new password"
          busyText="Saving…"
          onSubmit={async () => {
            if (password !== confirm) throw new Error("The two passwords are not the same.");
            await auth.resetPassword({ token, newPassword: password });
            p.session.setMe(null);
            setDone(true);
          }}
        >
          <Field label="New password" name="newPassword" type="password" value={password} onInput={setPassword} autocomplete="new-password" minLength={8} hint="At least 8 characters." />
          <Field label="New password again" name="confirmPassword" type="password" value={confirm} onInput={setConfirm} autocomplete="new-password" minLength={8} />
        </Form>
      )}
    </div>
  );
}

// Emailed links ask for one click rather than acting on load, so a mail scanner that opens
// links cannot use them up.
export function VerifyEmail(p: { url: URL; session: Session }) {
  const token = p.url.searchParams.get("token") ?? "";
  const [done, setDone] = useState(false);
  return (
    <div class="narrow">
      <h1>Verify your email</h1>
      {!token ? (
        <MissingToken />
      ) : done ? (
        <p class="ok" role="status">
          Your email address is verified. <a href={p.session.me ? "/" : "/sign-in"}>Continue</a>
        </p>
      ) : (
        <Form
          label="Verify your email"
          submit="Verify my email"
          busyText="Verifying…"
          onSubmit={async () => {
            await auth.verifyEmail({ token });
            setDone(true);
            if (p.session.me) await p.session.refresh();
          }}
        >
          <p>Confirm that this address is yours.</p>
        </Form>
      )}
    </div>
  );
}

export function ConfirmEmail(p: { url: URL; session: Session }) {
  const token = p.url.searchParams.get("token") ?? "";
  const [email, setEmail] = useState("");
  return (
    <div class="narrow">
      <h1>Confirm your new email</h1>
      {!token ? (
        <MissingToken />
      ) : email ? (
        <p class="ok" role="status">
          Your account now uses {email}. <a href={p.session.me ? "/" : "/sign-in"}>Continue</a>
        </p>
      ) : (
        <Form
          label="Confirm your new email"
          submit="Use this address"
          busyText="Confirming…"
          onSubmit={async () => {
            const r = await auth.confirmEmail({ token });
            setEmail(r.user?.email ?? "the new address");
            if (p.session.me && r.user) p.session.setMe(r.user);
          }}
        >
          <p>Confirm that your account should use this new address from now on.</p>
        </Form>
      )}
    </div>
  );
}
