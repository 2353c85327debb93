// The journeys a person takes in the dashboard, end to end: a real browser, a real service,
// real email.
import { readFileSync } from "node:fs";
import { PASSWORD, checkA11y, expect, newEmail, screenshots, signIn, signOut, signUp, test, totp } from "./fixtures";

test("sign up, verify the email from the message, sign out, sign in", async ({ page, svc }) => {
  await page.goto("/sign-in");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await checkA11y(page, "sign-in");
  await screenshots(page, "sign-in");
  await page.goto("/sign-up");
  await checkA11y(page, "sign-up");
  await screenshots(page, "sign-up");

  const email = newEmail("journey");
  await signUp(page, email);
  await expect(page.getByText("Not verified")).toBeVisible();
  await expect(page.getByText(/\d+ days left/)).toBeVisible();
  await expect(page.getByText("Up to 3")).toBeVisible(); // the Solo trial's machine limit
  await checkA11y(page, "account");

  const link = await svc.mail.link(email, "/verify-email");
  await page.goto(link);
  await checkA11y(page, "verify-email");
  await page.getByRole("button", { name: "Verify my email" }).click();
  await expect(page.getByText("Your email address is verified.")).toBeVisible();
  await page.getByRole("link", { name: "Continue" }).click();
  await expect(page.getByText("Verified", { exact: true })).toBeVisible();
  await screenshots(page, "account");

  await signOut(page);
  // Signed out, an account page sends you to sign in, and back after it.
  await page.goto("/sessions");
  await expect(page).toHaveURL(/\/sign-in\?next=%2Fsessions$/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("That email and password do not match an account.");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Sessions" })).toBeVisible();
  await checkA11y(page, "sessions");
  await screenshots(page, "sessions");
  await page.getByRole("link", { name: "Activity" }).click();
  await expect(page.getByText("Email verified")).toBeVisible();
  await checkA11y(page, "activity");
  await screenshots(page, "activity");
});

test("enrol 2FA, then sign in with a code and with a backup code", async ({ page }) => {
  const email = newEmail("totp");
  await signUp(page, email);
  await page.getByRole("link", { name: "Security" }).click();
  await checkA11y(page, "security");
  await page.getByRole("button", { name: "Set up two-factor authentication" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent())!.trim();
  expect(secret).toMatch(/^[A-Z2-7]+=*$/);
  await expect(page.getByRole("img", { name: "QR code for your authenticator app" })).toBeVisible();
  const codes = await page.getByRole("list", { name: "Backup codes" }).getByRole("listitem").allTextContents();
  expect(codes.length).toBeGreaterThanOrEqual(8);
  await checkA11y(page, "2FA enrolment");
  await screenshots(page, "security-2fa-setup");
  // Three codes from three successive 30-second steps: each sign-in uses a newer one.
  await page.getByLabel("Code from your app").fill(totp(secret, -30));
  await page.getByRole("button", { name: "Turn on" }).click();
  await expect(page.getByText(/Two-factor authentication is\s+on/)).toBeVisible();
  await screenshots(page, "security");

  await signOut(page);
  await signIn(page, email);
  await expect(page.getByLabel("Authenticator code")).toBeVisible();
  await checkA11y(page, "2FA step");
  await page.getByLabel("Authenticator code").fill("000000" === totp(secret) ? "111111" : "000000");
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("alert")).toContainText("That code is not right");
  await page.getByLabel("Authenticator code").fill(totp(secret));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();

  await signOut(page);
  await signIn(page, email);
  await page.getByRole("button", { name: "Use a backup code instead" }).click();
  await page.getByLabel("Backup code").fill(codes[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
  // A backup code works once.
  await signOut(page);
  await signIn(page, email);
  await page.getByRole("button", { name: "Use a backup code instead" }).click();
  await page.getByLabel("Backup code").fill(codes[0]);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
});

test("forgot password: the emailed link sets a new password and ends the old sessions", async ({ page, browser, svc }) => {
  const email = newEmail("reset");
  await signUp(page, email);

  const other = await browser.newContext();
  const p2 = await other.newPage();
  await p2.goto(svc.url + "/forgot-password");
  await checkA11y(p2, "forgot-password");
  await p2.getByLabel("Email").fill(email);
  await p2.getByRole("button", { name: "Email me a link" }).click();
  await expect(p2.locator(".ok")).toBeVisible();
  const link = await svc.mail.link(email, "/reset-password");
  await p2.goto(link);
  await checkA11y(p2, "reset-password");
  await screenshots(p2, "reset-password");
  await p2.getByLabel("New password", { exact: true }).fill("a brand new secret");
  await p2.getByLabel("New password again").fill("a brand new secret");
  await p2.getByRole("button", { name: "Set new password" }).click();
  await expect(p2.getByText("Your password is changed")).toBeVisible();
  // The same link does not work twice.
  await p2.goto(link);
  await p2.getByLabel("New password", { exact: true }).fill("yet another secret");
  await p2.getByLabel("New password again").fill("yet another secret");
  await p2.getByRole("button", { name: "Set new password" }).click();
  await expect(p2.getByRole("alert")).toHaveText("This reset link is invalid, used or expired. Ask for a new one.");
  await other.close();

  // The first browser's session is gone.
  await page.reload();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await signIn(page, email);
  await expect(page.getByRole("alert")).toHaveText("That email and password do not match an account.");
  await signIn(page, email, "a brand new secret");
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
});

test("revoke another session: its token answers 401", async ({ page, browser, svc, request }) => {
  const email = newEmail("sessions");
  await signUp(page, email);
  const other = await browser.newContext({ userAgent: "Mozilla/5.0 (Windows NT 10.0) Firefox/140.0" });
  const p2 = await other.newPage();
  await p2.goto(svc.url + "/sign-in");
  await signIn(p2, email);
  await expect(p2.getByRole("heading", { name: "Your account" })).toBeVisible();
  await expect.poll(async () => (await other.cookies()).some((c) => c.name === "panguard_session")).toBe(true);
  const token = (await other.cookies()).find((c) => c.name === "panguard_session")!.value;
  expect((await request.get(svc.url + "/api/auth/me", { headers: { Authorization: `Bearer ${token}` } })).status()).toBe(200);

  await page.getByRole("link", { name: "Sessions" }).click();
  await expect(page.getByRole("listitem").filter({ hasText: "Firefox on Windows" })).toBeVisible();
  await page.getByRole("button", { name: /^Sign out session Firefox on Windows/ }).click();
  await expect(page.getByText("Session signed out.")).toBeVisible();
  await expect(page.getByRole("listitem").filter({ hasText: "Firefox on Windows" })).toHaveCount(0);

  expect((await request.get(svc.url + "/api/auth/me", { headers: { Authorization: `Bearer ${token}` } })).status()).toBe(401);
  await p2.reload();
  await expect(p2.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await other.close();
});

test("change password", async ({ page }) => {
  const email = newEmail("password");
  await signUp(page, email);
  await page.getByRole("link", { name: "Security" }).click();
  const form = page.getByRole("form", { name: "Change password" });
  await form.getByLabel("Current password").fill("wrong password");
  await form.getByLabel("New password").fill("another good secret");
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByRole("alert")).toHaveText("Your current password is not right.");
  await form.getByLabel("Current password").fill(PASSWORD);
  await form.getByLabel("New password").fill("another good secret");
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByText("Password changed.")).toBeVisible();
  await signOut(page);
  await signIn(page, email, "another good secret");
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
});

test("export downloads JSON, then delete the account", async ({ page }) => {
  const email = newEmail("data");
  await signUp(page, email);
  await page.getByRole("link", { name: "Your data" }).click();
  await checkA11y(page, "data");
  await screenshots(page, "data");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download my data (JSON)" }).click()]);
  expect(download.suggestedFilename()).toBe("panguard-account-export.json");
  const exported = JSON.parse(readFileSync((await download.path())!, "utf8"));
  expect(exported.user.email).toBe(email);
  expect(exported.sessions.length).toBe(1);
  expect(JSON.stringify(exported)).not.toMatch(/password|secret/i);

  const del = page.getByRole("form", { name: "Delete your account" });
  await del.getByLabel("Current password").fill(PASSWORD);
  await del.getByRole("button", { name: "Delete my account" }).click();
  await expect(del.getByRole("alert")).toContainText("Tick the box");
  await del.getByLabel("I understand").check();
  await del.getByRole("button", { name: "Delete my account" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await signIn(page, email);
  await expect(page.getByRole("alert")).toHaveText("That email and password do not match an account.");
});

test("the session token is out of page scripts' reach, and the cookie works only on Connect requests", async ({ page, context, svc }) => {
  const email = newEmail("cookie");
  await signUp(page, email);
  const session = async () => (await context.cookies()).find((c) => c.name === "panguard_session");
  await expect.poll(session).toBeTruthy(); // the browser stores Set-Cookie as the answer arrives
  const cookie = (await session())!;
  expect(cookie.httpOnly).toBe(true);
  expect(cookie.sameSite).toBe("Strict");
  const seen = await page.evaluate(() => {
    const all: string[] = [document.cookie];
    for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) all.push(s.key(i)!, s.getItem(s.key(i)!)!);
    return all.join("\n");
  });
  expect(seen).not.toContain(cookie.value);
  expect(seen).not.toContain("panguard_session");

  // The browser context's request API sends the cookie like a form or simple request would:
  // without the Connect protocol header the service ignores it.
  const me = (headers: Record<string, string>) => page.request.post(svc.url + "/panguard.auth.v1.AuthService/Me", { data: "{}", headers });
  expect((await me({ "Content-Type": "application/json", "Connect-Protocol-Version": "1" })).status()).toBe(200);
  expect((await me({ "Content-Type": "application/json" })).status()).toBe(401);
  expect((await me({ "Content-Type": "application/x-www-form-urlencoded" })).status()).not.toBe(200);
  expect((await page.request.get(svc.url + "/api/auth/me")).status()).toBe(401); // REST never reads it

  // Sign-out clears it.
  await signOut(page);
  await expect.poll(session).toBeUndefined();
});

test("pages for emailed links explain a missing or bad token in words", async ({ page }) => {
  for (const path of ["/reset-password", "/verify-email", "/confirm-email"]) {
    await page.goto(path);
    await expect(page.getByRole("alert")).toContainText("This link is incomplete");
  }
  await page.goto("/verify-email?token=vfy_nonsense");
  await page.getByRole("button", { name: "Verify my email" }).click();
  await expect(page.getByRole("alert")).toHaveText("This link is invalid, used or expired.");
  await page.goto("/no/such/page");
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await checkA11y(page, "not found");
});

test("change email: the link goes to the new address and confirms it", async ({ page, svc }) => {
  const email = newEmail("old");
  const next = newEmail("new");
  await signUp(page, email);
  await page.getByRole("link", { name: "Change your email address" }).click();
  await checkA11y(page, "change email");
  await page.getByLabel("New email").fill(next);
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByRole("button", { name: "Send confirmation link" }).click();
  await expect(page.locator(".ok")).toBeVisible();
  const link = await svc.mail.link(next, "/confirm-email");
  await page.goto(link);
  await checkA11y(page, "confirm email");
  await page.getByRole("button", { name: "Use this address" }).click();
  await expect(page.getByText(`Your account now uses ${next}.`)).toBeVisible();
  await page.getByRole("link", { name: "Continue" }).click();
  await expect(page.getByText(next)).toBeVisible();
  await expect(page.getByText("Verified", { exact: true })).toBeVisible();
  await signOut(page);
  await signIn(page, next);
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
});

test("admin: find a user, change the plan, suspend and restore", async ({ page, browser, svc }) => {
  const target = newEmail("member");
  const other = await browser.newContext();
  await signUp(await other.newPage(), target, PASSWORD, "Grace Hopper");
  await other.close();

  const ops = newEmail("ops");
  await signUp(page, ops);
  await expect(page.getByRole("link", { name: "Admin" })).toHaveCount(0);
  svc.grantAdmin(ops);
  await page.reload();
  await page.getByRole("link", { name: "Admin" }).click();
  await checkA11y(page, "admin");
  const search = page.getByLabel("Email or name contains");
  await search.fill(target.split("@")[0]);
  await expect(search).toHaveValue(target.split("@")[0]);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.getByRole("listitem").filter({ hasText: target });
  await expect(row).toBeVisible();
  await row.getByRole("button", { name: "Open" }).click();
  await expect(page.getByRole("heading", { name: "Grace Hopper" })).toBeVisible();
  await page.getByLabel("Plan", { exact: true }).selectOption({ label: "Pro" });
  await page.getByRole("button", { name: "Set plan" }).click();
  await expect(page.getByText("Plan set.")).toBeVisible();
  await expect(row).toContainText("Pro");
  await page.getByLabel("Reason for suspending").fill("Chargeback under review");
  await page.getByRole("button", { name: "Suspend account" }).click();
  await expect(page.getByText("Account suspended; its sessions were signed out.")).toBeVisible();
  await expect(page.getByText("Suspended: Chargeback under review")).toBeVisible();
  await checkA11y(page, "admin user");
  await screenshots(page, "admin");
  await page.getByRole("button", { name: "Restore account" }).click();
  await expect(page.getByText("Account restored.")).toBeVisible();
});

test("keyboard only: sign in with Tab and Enter; dark mode passes axe too", async ({ page }) => {
  const email = newEmail("keys");
  await signUp(page, email);
  await signOut(page);
  await page.goto("/sign-in");
  const focused = () => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name ?? "");
  for (let i = 0; i < 8 && (await focused()) !== "email"; i++) await page.keyboard.press("Tab");
  expect(await focused()).toBe("email");
  await page.keyboard.type(email);
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("password");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();

  await page.emulateMedia({ colorScheme: "dark" });
  await checkA11y(page, "account, dark");
  await screenshots(page, "account-dark");
  await page.getByRole("link", { name: "Security" }).click();
  await checkA11y(page, "security, dark");
});
