// The admin actions beyond plan and suspension: reset a user's 2FA, page through the audit
// log, delete the user.
import { PASSWORD, checkA11y, expect, newEmail, signUp, test } from "./fixtures";
import { enrol } from "./helpers";

test("admin: page through a user's audit log, reset their 2FA, delete them", async ({ page, browser, svc, request }) => {
  const ops = newEmail("ops");
  await signUp(page, ops);
  const target = newEmail("member");
  const ctx = await browser.newContext();
  const tp = await ctx.newPage();
  await tp.goto(svc.url + "/sign-up");
  await signUp(tp, target, PASSWORD, "Grace Hopper");
  // Twelve sign-ins from another device: more audit events than one page of ten holds.
  for (let i = 0; i < 12; i++) {
    const r = await request.post(svc.url + "/api/auth/login", { data: { email: target, password: PASSWORD } });
    expect(r.status(), await r.text()).toBe(200);
  }
  await enrol(tp);
  await ctx.close();

  svc.grantAdmin(ops);
  await page.goto("/admin");
  await page.getByLabel("Email or name contains").fill(target);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("listitem").filter({ hasText: target }).getByRole("button", { name: "Open" }).click();
  const card = page.getByRole("region", { name: "Grace Hopper" });
  await expect(card.locator("dd").filter({ hasText: /^On$/ })).toBeVisible();

  // The audit log: ten events, then the older ones on request, newest first.
  const events = card.getByRole("listitem");
  await expect(events).toHaveCount(10);
  await expect(events.first()).toContainText("Two-factor turned on");
  await card.getByRole("button", { name: "Show older" }).click();
  await expect(events).toHaveCount(14); // account created, 12 sign-ins, 2FA turned on
  await expect(events.last()).toContainText("Account created");
  await expect(card.getByRole("button", { name: "Show older" })).toHaveCount(0);
  // Typing in the forms beside it keeps the pages already loaded.
  await card.getByLabel("Reason for resetting two-factor").fill("Lost phone, identity checked by support");
  await expect(events).toHaveCount(14);
  await checkA11y(page, "admin audit log");

  const before = svc.mail.mails.filter((m) => m.to.includes(target.toLowerCase())).length;
  await card.getByRole("button", { name: "Reset two-factor" }).click();
  await expect(card.getByText("Two-factor removed; the user was told by email.")).toBeVisible();
  await expect(card.locator("dd").filter({ hasText: /^Off$/ })).toBeVisible();
  await expect(card.getByRole("button", { name: "Reset two-factor" })).toHaveCount(0);
  await expect(events.first()).toContainText("Two-factor reset by an administrator");
  await expect.poll(() => svc.mail.mails.filter((m) => m.to.includes(target.toLowerCase())).length).toBeGreaterThan(before);
  // The user signs in with the password alone now.
  const login = await request.post(svc.url + "/api/auth/login", { data: { email: target, password: PASSWORD } });
  expect((await login.json()).data.token).toBeTruthy();

  await card.getByRole("button", { name: "Delete user" }).click();
  await expect(card).toHaveCount(0);
  await expect(page.getByText("No users match.")).toBeVisible();
  expect((await request.post(svc.url + "/api/auth/login", { data: { email: target, password: PASSWORD } })).status()).toBe(401);
  // The admin's own account is untouched.
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
});
