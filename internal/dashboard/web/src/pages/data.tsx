// Your data: export everything held about you; delete the account.
import { useState } from "preact/hooks";
import { toJsonString } from "@bufbuild/protobuf";
import { ExportAccountResponseSchema, type User } from "@panguard/auth-web";
import { auth } from "../api";
import { navigate } from "../router";
import type { Session } from "../session";
import { Card, Form, download, useReauth } from "../ui";

export function Data(p: { session: Session; me: User }) {
  const re = useReauth(p.me.totpEnabled);
  const [sure, setSure] = useState(false);
  return (
    <>
      <h1>Your data</h1>
      <Card title="Export">
        <Form
          label="Export your data"
          submit="Download my data (JSON)"
          busyText="Preparing…"
          onSubmit={async () => {
            const r = await auth.exportAccount({});
            download("panguard-account-export.json", "application/json", toJsonString(ExportAccountResponseSchema, r, { prettySpaces: 2 }) + "\n");
            return "Your export is downloading.";
          }}
        >
          <p class="muted">Your profile, sessions, security activity and two-factor status, as one JSON file. It never holds passwords, secrets or codes.</p>
        </Form>
      </Card>
      <Card title="Delete your account">
        <Form
          label="Delete your account"
          submit="Delete my account"
          busyText="Deleting…"
          danger
          onSubmit={async () => {
            if (!sure) throw new Error("Tick the box to confirm that you want to delete the account.");
            await auth.deleteAccount({ password: re.password, ...re.codes });
            p.session.setMe(null);
            navigate("/sign-in?deleted=1", true);
          }}
        >
          <p>This erases your account, sessions, two-factor settings and activity at once. It cannot be undone.</p>
          {re.fields}
          <div class="check">
            <input id="confirm-delete" type="checkbox" checked={sure} onChange={(e) => setSure((e.currentTarget as HTMLInputElement).checked)} />
            <label for="confirm-delete">I understand that my account and its data will be gone for good.</label>
          </div>
        </Form>
      </Card>
    </>
  );
}
