// Steps several specs share.
import type { APIRequestContext, Page } from "@playwright/test";
import { PASSWORD, expect, totp } from "./fixtures";

/** Turns 2FA on from the Security page; returns the secret and the first backup codes. */
export async function enrol(page: Page): Promise<{ secret: string; codes: string[] }> {
  await page.getByRole("link", { name: "Security" }).click();
  await page.getByRole("button", { name: "Set up two-factor authentication" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent())!.trim();
  const codes = await page.getByRole("list", { name: "Backup codes" }).getByRole("listitem").allTextContents();
  // The previous 30-second step's code, so a later step's code is still unused.
  await page.getByLabel("Code from your app").fill(totp(secret, -30));
  await page.getByRole("button", { name: "Turn on" }).click();
  await expect(page.getByText(/Two-factor authentication is\s+on/)).toBeVisible();
  return { secret, codes: codes.map((c) => c.trim()) };
}

/** A bearer token for email from REST login, as another device would get one. */
export async function bearer(request: APIRequestContext, url: string, email: string): Promise<string> {
  const r = await request.post(url + "/api/auth/login", { data: { email, password: PASSWORD } });
  expect(r.status(), await r.text()).toBe(200);
  return (await r.json()).data.token;
}

export async function status(request: APIRequestContext, url: string, token: string): Promise<number> {
  return (await request.get(url + "/api/auth/me", { headers: { Authorization: `Bearer ${token}` } })).status();
}
