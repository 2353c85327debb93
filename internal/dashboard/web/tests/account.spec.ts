// More account journeys: new backup codes and turning 2FA off, signing out every other
// session, resending the verification email, renaming.
import { PASSWORD, checkA11y, expect, newEmail, signIn, signOut, signUp, test, totp } from "./fixtures";
import { bearer, enrol, status } from "./helpers";

test("new backup codes replace the old ones; turning 2FA off signs in with the password alone", async ({ page }) => {
  const email = newEmail("regen");
  await signUp(page, email);
  const { secret, codes: old } = await enrol(page);
  await expect(page.getByText("10 backup codes left.")).toBeVisible();

  await page.getByText("New backup codes", { exact: true }).click(); // the <summary>
  const regen = page.getByRole("form", { name: "New backup codes" });
  await regen.getByLabel("Current password").fill("not my password");
  await regen.getByLabel("Authenticator code or backup code").fill(old[0]);
  await regen.getByRole("button", { name: "Make new backup codes" }).click();
  await expect(regen.getByRole("alert")).toHaveText("Your current password is not right.");
  await regen.getByLabel("Current password").fill(PASSWORD);
  await regen.getByLabel("Authenticator code or backup code").fill(old[1]);
  await regen.getByRole("button", { name: "Make new backup codes" }).click();
  const list = page.getByRole("list", { name: "Backup codes" }).getByRole("listitem");
  await expect(list).toHaveCount(10);
  const fresh = (await list.allTextContents()).map((c) => c.trim());
  expect(fresh.filter((c) => old.includes(c))).toEqual([]);
  await expect(page.getByText("10 backup codes left.")).toBeVisible();
  await checkA11y(page, "new backup codes");

  // An old code no longer signs in; a new one does.
  await signOut(page);
  await signIn(page, email);
  await page.getByRole("button", { name: "Use a backup code instead" }).click();
  await page.getByLabel("Backup code").fill(old[2]);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await page.getByLabel("Backup code").fill(fresh[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();

  await page.getByRole("link", { name: "Security" }).click();
  await expect(page.getByText("9 backup codes left.")).toBeVisible();
  await page.getByText("Turn off two-factor authentication", { exact: true }).click();
  const off = page.getByRole("form", { name: "Turn off two-factor authentication" });
  await off.getByLabel("Current password").fill(PASSWORD);
  await off.getByLabel("Authenticator code or backup code").fill(totp(secret));
  await off.getByRole("button", { name: "Turn off" }).click();
  await expect(page.getByText(/Two-factor authentication is\s+off/)).toBeVisible();
  await expect(page.getByRole("button", { name: "Set up two-factor authentication" })).toBeVisible();

  await page.getByRole("link", { name: "Activity" }).click();
  await expect(page.getByText("Two-factor turned off")).toBeVisible();
  await expect(page.getByText("New backup codes")).toBeVisible();
  await signOut(page);
  await signIn(page, email);
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
});

test("sign out everywhere else: the other sessions' tokens answer 401, this one stays", async ({ page, svc, request }) => {
  const email = newEmail("others");
  await signUp(page, email);
  const tokens = [await bearer(request, svc.url, email), await bearer(request, svc.url, email)];
  for (const t of tokens) expect(await status(request, svc.url, t)).toBe(200);

  await page.getByRole("link", { name: "Sessions" }).click();
  await expect(page.getByRole("button", { name: /^Sign out session / })).toHaveCount(2);
  await page.getByRole("button", { name: "Sign out everywhere else" }).click();
  await expect(page.getByText("2 other sessions signed out.")).toBeVisible();
  await expect(page.getByRole("button", { name: /^Sign out session / })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Sign out everywhere else" })).toHaveCount(0);
  await expect(page.getByText("This browser")).toBeVisible();

  for (const t of tokens) expect(await status(request, svc.url, t)).toBe(401);
  await page.reload();
  await expect(page.getByRole("heading", { name: "Sessions" })).toBeVisible();
});

test("resend the verification email: the page says so, the link verifies, then the offer is gone", async ({ page, svc }) => {
  const email = newEmail("resend");
  await signUp(page, email);
  const first = await svc.mail.link(email, "/verify-email");
  const form = page.getByRole("form", { name: "Resend verification email" });
  await form.getByRole("button", { name: "Resend verification email" }).click();
  await expect(form.locator(".ok")).toHaveText("If your address still needs verifying, a new link has been sent.");
  await checkA11y(page, "account, resent");
  // Within the resend interval the service sends no second message (it throttles the
  // mailbox), and the first link still works.
  const mailsTo = () => svc.mail.mails.filter((m) => m.to.includes(email.toLowerCase()) && m.text.includes("/verify-email?token=")).length;
  await page.waitForTimeout(500);
  expect(mailsTo()).toBe(1);
  await page.goto(first);
  await page.getByRole("button", { name: "Verify my email" }).click();
  await expect(page.getByText("Your email address is verified.")).toBeVisible();
  await page.getByRole("link", { name: "Continue" }).click();
  await expect(page.getByText("Verified", { exact: true })).toBeVisible();
  await expect(page.getByRole("button", { name: "Resend verification email" })).toHaveCount(0);
});

test("rename: the profile's new name is kept", async ({ page, svc, request }) => {
  const email = newEmail("rename");
  await signUp(page, email);
  const profile = page.getByRole("form", { name: "Profile" });
  await expect(profile.getByLabel("Name")).toHaveValue("Ada Lovelace");
  await profile.getByLabel("Name").fill("Ada King, Countess of Lovelace");
  await profile.getByRole("button", { name: "Save" }).click();
  await expect(profile.getByText("Saved.")).toBeVisible();
  await page.reload();
  await expect(page.getByRole("form", { name: "Profile" }).getByLabel("Name")).toHaveValue("Ada King, Countess of Lovelace");
  const token = await bearer(request, svc.url, email);
  const me = await (await request.get(svc.url + "/api/auth/me", { headers: { Authorization: `Bearer ${token}` } })).json();
  expect(me.data.name).toBe("Ada King, Countess of Lovelace");
});
