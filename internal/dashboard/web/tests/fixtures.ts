// Test fixtures: one real service process per worker (built from ./service by global-setup,
// on a fresh SQLite database, sending mail to an SMTP sink in this process), plus helpers:
// TOTP codes, axe-core checks, screenshots at 375 and 1280 px.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { test as base, expect, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { SmtpSink } from "./smtp";

export type Service = { url: string; mail: SmtpSink; log: () => string; grantAdmin: (email: string) => void };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startService(): Promise<{ svc: Service; stop: () => Promise<void> }> {
  const bin = process.env.PANGUARD_E2E_BIN;
  if (!bin) throw new Error("PANGUARD_E2E_BIN is not set (global-setup builds it)");
  const mail = new SmtpSink();
  const smtpPort = await mail.listen();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "panguard-e2e-"));
  // localhost, not 127.0.0.1: WebAuthn's relying-party id must be a domain (passkeys.spec.ts).
  const url = `http://localhost:${port}`;
  let out = "";
  const env = {
    PATH: process.env.PATH,
    PANGUARD_ADDR: `127.0.0.1:${port}`,
    PANGUARD_DATABASE_URL: `sqlite://${join(dir, "auth.db")}`,
    PANGUARD_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    PANGUARD_PUBLIC_URL: url,
    PANGUARD_RATE_LIMIT: "0",
    PANGUARD_LOG_LEVEL: "warn",
  };
  const proc: ChildProcess = spawn(bin, [], { env, stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const deadline = Date.now() + 30000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`service exited: ${out}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`service not ready: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    svc: {
      url,
      mail,
      log: () => out,
      // The operator's way to make an admin: the binary's subcommand on the same database.
      grantAdmin: (email) => void execFileSync(bin, ["admin", "grant", email], { env, stdio: "pipe" }),
    },
    stop: async () => {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once("exit", r)));
      mail.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const test = base.extend<{ svc: Service }, { worker: Service }>({
  worker: [
    async ({}, use) => {
      const { svc, stop } = await startService();
      await use(svc);
      await stop();
    },
    { scope: "worker" },
  ],
  svc: async ({ worker }, use) => use(worker),
  // Every page must run under its Content-Security-Policy without a single violation.
  page: async ({ page }, use) => {
    const violations: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error" && /Content.Security.Policy/i.test(m.text())) violations.push(m.text());
    });
    await use(page);
    expect(violations, "CSP violations").toEqual([]);
  },
  baseURL: async ({ worker }, use) => use(worker.url),
});
export { expect };

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret, offset seconds from now. */
export function totp(secret: string, offsetSeconds = 0): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor((Date.now() / 1000 + offsetSeconds) / 30)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** No serious or critical axe-core violation on the page as it is now. */
export async function checkA11y(page: Page, what: string) {
  const r = await new AxeBuilder({ page }).analyze();
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), `axe on ${what}`).toEqual([]);
}

/** Screenshots of the page at 375 and 1280 px wide, into test-results/screenshots. */
export async function screenshots(page: Page, name: string) {
  const size = page.viewportSize();
  for (const width of [375, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    await page.screenshot({ path: `test-results/screenshots/${name}-${width}.png`, fullPage: true });
    // Nothing wider than the window at either size.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `${name} at ${width} px scrolls sideways`).toBeLessThanOrEqual(0);
  }
  if (size) await page.setViewportSize(size);
}

let n = 0;
export function newEmail(tag: string): string {
  return `${tag}-${Date.now().toString(36)}-${++n}@example.com`;
}

export const PASSWORD = "correct horse battery";

export async function signUp(page: Page, email: string, password = PASSWORD, name = "Ada Lovelace") {
  await page.goto("/sign-up");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  // Exact: the sign-up page's own heading, "Create your account", contains these words, and
  // a loose match would return before the account exists.
  await expect(page.getByRole("heading", { name: "Your account", exact: true })).toBeVisible();
}

export async function signIn(page: Page, email: string, password = PASSWORD) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

export async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).first().click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
}
