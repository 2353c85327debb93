// Administration: find users and act on them (every action is recorded on the user's activity).
import { useMemo, useState } from "preact/hooks";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Tier, type AdminUser } from "@panguard/auth-web";
import { admin } from "../api";
import { Card, Field, Form, fmtDate, useId } from "../ui";
import { tierNames } from "./account";
import { ActivityList } from "./security";

const tiers = [Tier.COMMUNITY, Tier.SOLO, Tier.PRO, Tier.BUSINESS, Tier.ENTERPRISE];

function UserActions(p: { user: AdminUser; onChange: (u: AdminUser | null) => void }) {
  const u = p.user.user!;
  const [tier, setTier] = useState(String(u.tier));
  const [until, setUntil] = useState("");
  const [reason, setReason] = useState("");
  const [resetReason, setResetReason] = useState("");
  const [resetDone, setResetDone] = useState(false);
  const tierId = useId("tier");
  // One loader per version of the user: the audit list reloads after an action changed the
  // user, not on every keystroke in the forms beside it (which would drop older pages).
  const loadAudit = useMemo(
    () => async (before: string) => {
      const r = await admin.listAudit({ userId: u.id, limit: 10, cursor: before });
      return { events: r.events, nextCursor: r.nextCursor };
    },
    [p.user],
  );
  return (
    <Card title={`${u.name || u.email}`}>
      <dl class="facts">
        <div><dt>Email</dt><dd>{u.email} {u.emailVerified ? "(verified)" : "(not verified)"}</dd></div>
        <div><dt>Plan</dt><dd>{tierNames[u.tier]}</dd></div>
        <div><dt>Role</dt><dd>{u.role}</dd></div>
        <div><dt>Two-factor</dt><dd>{u.totpEnabled ? "On" : "Off"}</dd></div>
        <div><dt>Status</dt><dd>{p.user.suspended ? `Suspended: ${p.user.suspendedReason}` : "Active"}</dd></div>
        <div><dt>Last sign-in</dt><dd>{fmtDate(p.user.lastLoginAt)}</dd></div>
        <div><dt>Sessions</dt><dd>{p.user.sessionCount ?? "—"}</dd></div>
      </dl>
      <Form label="Set plan" submit="Set plan" onSubmit={async () => {
        const r = await admin.setPlan({ userId: u.id, tier: Number(tier) as Tier, planExpiresAt: until ? timestampFromDate(new Date(until)) : undefined });
        p.onChange(r.user ?? null);
        return "Plan set.";
      }}>
        <div class="field">
          <label for={tierId}>Plan</label>
          <select id={tierId} value={tier} onChange={(e) => setTier((e.currentTarget as HTMLSelectElement).value)}>
            {tiers.map((t) => <option value={String(t)}>{tierNames[t]}</option>)}
          </select>
        </div>
        <Field label="Plan ends (empty: no end)" name="planExpiresAt" type="date" value={until} onInput={setUntil} required={false} />
      </Form>
      {p.user.suspended ? (
        <Form label="Restore account" submit="Restore account" onSubmit={async () => { const r = await admin.unsuspendUser({ userId: u.id }); p.onChange(r.user ?? null); return "Account restored."; }}>{null}</Form>
      ) : (
        <Form label="Suspend account" submit="Suspend account" danger onSubmit={async () => { const r = await admin.suspendUser({ userId: u.id, reason }); setReason(""); p.onChange(r.user ?? null); return "Account suspended; its sessions were signed out."; }}>
          <Field label="Reason for suspending" name="reason" value={reason} onInput={setReason} />
        </Form>
      )}
      <Form label="Sign out all sessions" submit="Sign out all sessions" onSubmit={async () => `${(await admin.revokeUserSessions({ userId: u.id })).revoked} sessions signed out.`}>{null}</Form>
      {u.totpEnabled ? (
        <Form label="Reset two-factor" submit="Reset two-factor" danger onSubmit={async () => { const r = await admin.resetUserTotp({ userId: u.id, reason: resetReason }); setResetReason(""); setResetDone(true); p.onChange(r.user ?? null); }}>
          <Field label="Reason for resetting two-factor" name="resetReason" value={resetReason} onInput={setResetReason} />
        </Form>
      ) : (
        // The form goes once two-factor is off, so its confirmation stays here instead.
        resetDone && <p class="ok" role="status">Two-factor removed; the user was told by email.</p>
      )}
      <Form label="Delete user" submit="Delete user" danger onSubmit={async () => { await admin.deleteUser({ userId: u.id }); p.onChange(null); }}>
        <p class="muted">Erases the account and everything kept about it.</p>
      </Form>
      <h3>Audit</h3>
      <ActivityList load={loadAudit} />
    </Card>
  );
}

export function Admin() {
  const [query, setQuery] = useState("");
  const [users, setUsers] = useState<AdminUser[] | null>(null);
  const [picked, setPicked] = useState<AdminUser | null>(null);
  const search = async () => {
    const r = await admin.listUsers({ query, limit: 50 });
    setUsers(r.users);
  };
  return (
    <>
      <h1>Administration</h1>
      <Card title="Find users">
        <Form label="Find users" submit="Search" busyText="Searching…" onSubmit={search}>
          <Field label="Email or name contains" name="query" type="search" value={query} onInput={setQuery} required={false} />
        </Form>
        {users && users.length === 0 && <p class="muted">No users match.</p>}
        {users && users.length > 0 && (
          <ul class="rows">
            {users.map((a) => (
              <li key={a.user!.id} class="row">
                <div>
                  <strong>{a.user!.email}</strong> {a.suspended && <span class="badge warn">Suspended</span>}
                  <p class="muted">{a.user!.name} · {tierNames[a.user!.tier]} · joined {fmtDate(a.user!.createdAt)}</p>
                </div>
                <button type="button" onClick={async () => setPicked((await admin.getUser({ userId: a.user!.id })).user ?? null)}>Open</button>
              </li>
            ))}
          </ul>
        )}
      </Card>
      {picked && <UserActions key={picked.user!.id} user={picked} onChange={(u) => { setPicked(u); search().catch(() => {}); }} />}
    </>
  );
}
