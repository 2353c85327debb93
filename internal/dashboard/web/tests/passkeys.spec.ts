// Passkeys in a real browser: Chromium's virtual authenticator (DevTools protocol, through
// Playwright's CDP session) stands in for a phone or laptop with a screen lock.
import type { CDPSession, Page } from "@playwright/test";
import { PASSWORD, checkA11y, expect, newEmail, screenshots, signOut, signUp, test } from "./fixtures";
import { creationOptionsFromJSON, fromBase64url, requestOptionsFromJSON, toBase64url } from "../src/webauthn";

async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

// Chromium's virtual authenticator answers the sign-in page's autofill offer (conditional UI) at
// once, as if the person had picked the passkey from the email field's suggestions. To click
// "Use a passkey" instead, the page is told it runs in a browser without conditional UI.
const noConditionalUI = "test:no-conditional-ui";
async function conditionalUI(page: Page, on: boolean) {
  await page.evaluate(([k, v]) => (v ? sessionStorage.removeItem(k) : sessionStorage.setItem(k, "1")), [noConditionalUI, on] as const);
}

test("add a passkey on the security page, sign out, sign in with it, remove it", async ({ page }) => {
  await page.addInitScript((k) => {
    const P = window.PublicKeyCredential as unknown as { isConditionalMediationAvailable?: () => Promise<boolean> };
    const own = P?.isConditionalMediationAvailable?.bind(P);
    if (own) P.isConditionalMediationAvailable = async () => sessionStorage.getItem(k) !== "1" && (await own());
  }, noConditionalUI);
  const { cdp, id } = await virtualAuthenticator(page);
  const email = newEmail("passkey");
  await signUp(page, email);
  await page.getByRole("link", { name: "Security" }).click();
  await expect(page.getByText("You have no passkeys yet.")).toBeVisible();

  await page.locator("summary", { hasText: "Add a passkey" }).click();
  const add = page.getByRole("form", { name: "Add a passkey" });
  await add.getByLabel("Passkey name").fill("Test laptop");
  await add.getByLabel("Current password").fill("not my password");
  await add.getByRole("button", { name: "Add a passkey" }).click();
  await expect(add.getByRole("alert")).toHaveText("Your current password is not right.");
  await add.getByLabel("Current password").fill(PASSWORD);
  await add.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByText("Passkey “Test laptop” added.", { exact: false })).toBeVisible();
  const list = page.getByRole("list", { name: "Your passkeys" });
  await expect(list.getByText("Test laptop")).toBeVisible();
  await expect(list.getByText("never used")).toBeVisible();
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: id });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);
  await checkA11y(page, "security with a passkey");
  await screenshots(page, "security-passkeys");

  await conditionalUI(page, false);
  await signOut(page);
  await expect(page.getByLabel("Email")).toHaveAttribute("autocomplete", "username webauthn");
  await checkA11y(page, "sign-in with a passkey button");
  await page.getByRole("button", { name: "Use a passkey" }).click();
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
  await page.goto("/sessions");
  await expect(page.getByText(/with passkey/)).toBeVisible();

  await page.goto("/security");
  await expect(list.getByText(/last used/)).toBeVisible();
  await list.locator("summary", { hasText: "Rename" }).click();
  const rename = page.getByRole("form", { name: "Rename passkey Test laptop" });
  await rename.getByLabel("New name").fill("Work laptop");
  await rename.getByRole("button", { name: "Save name" }).click();
  await expect(list.getByText("Work laptop", { exact: true })).toBeVisible();

  // Where the browser has conditional UI, the sign-in page offers the passkey in the email
  // field's autofill; the virtual authenticator takes the offer.
  await conditionalUI(page, true);
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
  await conditionalUI(page, false);
  await page.goto("/security");

  await list.locator("summary", { hasText: "Remove" }).click();
  const remove = page.getByRole("form", { name: "Remove passkey Work laptop" });
  await remove.getByLabel("Current password").fill(PASSWORD);
  await remove.getByRole("button", { name: "Remove passkey" }).click();
  await expect(page.getByText("Passkey “Work laptop” removed.")).toBeVisible();
  await expect(page.getByText("You have no passkeys yet.")).toBeVisible();

  // The authenticator still holds the credential, but the service no longer knows it.
  await signOut(page);
  await page.getByRole("button", { name: "Use a passkey" }).click();
  await expect(page.getByRole("alert")).toHaveText("That passkey could not be verified. Try again, or use your password.");
});

test("the base64url conversion for browsers without the WebAuthn JSON parsers", async () => {
  const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255, 62, 63]);
  expect(toBase64url(bytes)).toBe("AAEC-vv8_f7_Pj8");
  expect(Array.from(fromBase64url("AAEC-vv8_f7_Pj8"))).toEqual(Array.from(bytes));
  expect(Array.from(fromBase64url("AAEC-vv8_f7_Pj8="))).toEqual(Array.from(bytes));
  for (let n = 0; n < 5; n++) expect(Array.from(fromBase64url(toBase64url(bytes.slice(0, n))))).toEqual(Array.from(bytes.slice(0, n)));
  expect(() => fromBase64url("not+base64/url")).toThrow();
  const c = creationOptionsFromJSON({
    challenge: "AAEC",
    rp: { id: "localhost", name: "Panguard" },
    user: { id: "dXNyXzE", name: "a@example.com", displayName: "A" },
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    excludeCredentials: [{ type: "public-key", id: "_w" }],
  });
  expect(Array.from(new Uint8Array(c.challenge as ArrayBuffer))).toEqual([0, 1, 2]);
  expect(new TextDecoder().decode(c.user.id as Uint8Array)).toBe("usr_1");
  expect(Array.from(c.excludeCredentials![0].id as Uint8Array)).toEqual([255]);
  const r = requestOptionsFromJSON({ challenge: "AAEC", rpId: "localhost", userVerification: "required" });
  expect(r.allowCredentials).toEqual([]);
  expect(r.userVerification).toBe("required");
});
