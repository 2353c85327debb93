// Account: profile, plan, email verification; change email.
import { useState } from "preact/hooks";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Tier, type User } from "@panguard/auth-web";
import { auth } from "../api";
import type { Session } from "../session";
import { Card, Field, Form, fmtDate, useReauth } from "../ui";

export const tierNames: Record<number, string> = {
  [Tier.UNSPECIFIED]: "Unknown",
  [Tier.COMMUNITY]: "Community",
  [Tier.SOLO]: "Solo",
  [Tier.PRO]: "Pro",
  [Tier.BUSINESS]: "Business",
  [Tier.ENTERPRISE]: "Enterprise",
};

function trialDaysLeft(u: User): number | null {
  if (!u.trialEndsAt) return null;
  const ms = timestampDate(u.trialEndsAt).getTime() - Date.now();
  return ms <= 0 ? 0 : Math.ceil(ms / 86_400_000);
}

export function Account(p: { session: Session; me: User }) {
  const me = p.me;
  const [name, setName] = useState(me.name);
  const days = trialDaysLeft(me);
  return (
    <>
      <h1>Your account</h1>
      <Card title="Plan">
        <dl class="facts">
          <div>
            <dt>Plan</dt>
            <dd>{tierNames[me.tier]}</dd>
          </div>
          <div>
            <dt>Trial</dt>
            <dd>{days === null ? "No trial" : days === 0 ? "Ended" : `${days} ${days === 1 ? "day" : "days"} left`}</dd>
          </div>
          <div>
            <dt>Machines</dt>
            <dd>{me.machineLimit === undefined ? "Unlimited" : `Up to ${me.machineLimit}`}</dd>
          </div>
          {me.planExpiresAt && (
            <div>
              <dt>Plan renews or ends</dt>
              <dd>{fmtDate(me.planExpiresAt)}</dd>
            </div>
          )}
          <div>
            <dt>Member since</dt>
            <dd>{fmtDate(me.createdAt)}</dd>
          </div>
        </dl>
      </Card>
      <Card title="Email">
        <p>
          <span class="email">{me.email}</span>{" "}
          {me.emailVerified ? <span class="badge good">Verified</span> : <span class="badge warn">Not verified</span>}
        </p>
        {!me.emailVerified && (
          <Form
            label="Resend verification email"
            submit="Resend verification email"
            busyText="Sending…"
            onSubmit={async () => {
              const r = await auth.resendVerification({});
              return r.message || "If a new email was due, it is on its way. Check your inbox.";
            }}
          >
            <p class="muted">We sent a link to this address. Open it to verify the address.</p>
          </Form>
        )}
        <p>
          <a href="/email">Change your email address</a>
        </p>
      </Card>
      <Card title="Profile">
        <Form
          label="Profile"
          submit="Save"
          busyText="Saving…"
          onSubmit={async () => {
            const r = await auth.updateMe({ name });
            if (r.user) p.session.setMe(r.user);
            return "Saved.";
          }}
        >
          <Field label="Name" name="name" value={name} onInput={setName} autocomplete="name" />
        </Form>
      </Card>
    </>
  );
}

export function ChangeEmail(p: { me: User }) {
  const [email, setEmail] = useState("");
  const re = useReauth(p.me.totpEnabled);
  return (
    <>
      <h1>Change your email</h1>
      <Card title="New address">
        <p class="muted">
          You use <span class="email">{p.me.email}</span> now. We will send a link to the new address; the change happens when you open it.
        </p>
        <Form
          label="Change your email"
          submit="Send confirmation link"
          busyText="Sending…"
          onSubmit={async () => {
            const r = await auth.changeEmail({ newEmail: email, password: re.password, ...re.codes });
            re.reset();
            return r.message || "Check the new address for a confirmation link.";
          }}
        >
          <Field label="New email" name="newEmail" type="email" value={email} onInput={setEmail} autocomplete="email" inputMode="email" />
          {re.fields}
        </Form>
      </Card>
    </>
  );
}
