// CLI sign-in through the browser, end to end with three real parts: the service process, the
// example CLI's binary running `panguard login --web` in a pseudo-terminal (util-linux
// `script`), and Chromium, where the user — signed out, with 2FA on — follows the CLI's link,
// signs in with a code, and approves. The CLI then runs `whoami` with the session it saved.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PASSWORD, checkA11y, expect, newEmail, screenshots, test, totp } from "./fixtures";

const repo = resolve(fileURLToPath(import.meta.url), "../../../../..");
let cli = process.env.PANGUARD_E2E_CLI ?? "";

test.beforeAll(() => {
  if (cli) return;
  cli = resolve(fileURLToPath(import.meta.url), "../../test-results/panguard");
  execFileSync("go", ["build", "-o", cli, "./examples/cli"], { cwd: repo, stdio: "inherit" });
});

/** The CLI in a pseudo-terminal, as a person runs it; output collects what it printed. */
function startCLI(home: string, api: string, args: string[]): { proc: ChildProcess; output: () => string; exit: Promise<number> } {
  const quoted = [cli, "--api", api, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  let out = "";
  const proc = spawn("script", ["-qfec", quoted, "/dev/null"], {
    env: { PATH: process.env.PATH, HOME: home, TERM: "dumb" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exit = new Promise<number>((r) => proc.once("exit", (code) => r(code ?? -1)));
  return { proc, output: () => out, exit };
}

async function api(base: string, path: string, body: unknown, token = ""): Promise<any> {
  const r = await fetch(base + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const j = await r.json();
  if (!j.ok) throw new Error(`${path}: ${JSON.stringify(j)}`);
  return j.data;
}

test("panguard login --web: approved in the dashboard after signing in with 2FA; whoami works", async ({ page, svc }) => {
  const email = newEmail("device");
  // An account with 2FA on, made over the API: the browser starts signed out.
  const reg = await api(svc.url, "/api/auth/register", { email, name: "Ada Lovelace", password: PASSWORD });
  const setup = await api(svc.url, "/api/auth/totp/setup", {}, reg.token);
  await api(svc.url, "/api/auth/totp/verify", { totpCode: totp(setup.secret) }, reg.token);

  const home = mkdtempSync(join(tmpdir(), "panguard-cli-"));
  try {
    const login = startCLI(home, svc.url, ["login", "--web", "--no-browser"]);
    await expect.poll(login.output, { timeout: 15_000 }).toMatch(/[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/);
    const shown = login.output();
    const code = shown.match(/[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/)![0];
    expect(shown).toContain(`${svc.url}/device`);
    const link = shown.match(/(http:\/\/\S+\/device\?code=\S+)/)![1];
    expect(link).toBe(`${svc.url}/device?code=${code}`);

    // The link from the terminal, in a browser that is signed out: sign-in first, with 2FA.
    await page.goto(link);
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    // The verify step used the current 30-second step; the next one is accepted too and never replayed.
    await page.getByLabel("Authenticator code").fill(totp(setup.secret, 30));
    await page.getByRole("button", { name: "Verify" }).click();

    // Back on /device with the code: who asks, from where, when.
    await expect(page.getByRole("heading", { name: "Sign in a device" })).toBeVisible();
    await expect(page).toHaveURL(new RegExp(`/device\\?code=${code}$`));
    const req = page.getByRole("region", { name: "Sign-in request" });
    await expect(req).toContainText(code);
    await expect(req).toContainText("panguard CLI");
    await expect(req).toContainText("127.0.0.1");
    await expect(req).toContainText(email);
    await checkA11y(page, "device approval");
    await screenshots(page, "device-approve");
    await page.getByRole("button", { name: "Approve" }).click();
    await expect(page.getByRole("status")).toContainText("Approved");

    // The CLI, polling, gets its session and saves it.
    expect(await login.exit).toBe(0);
    expect(login.output()).toContain(`Logged in as Ada Lovelace <${email}> through the browser.`);
    const whoami = startCLI(home, svc.url, ["whoami"]);
    expect(await whoami.exit).toBe(0);
    expect(whoami.output()).toContain(email);

    // The dashboard lists it as a device session named after the CLI.
    await page.goto("/sessions");
    await expect(page.getByText(/panguard CLI/).first()).toBeVisible();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("a typed code can be denied; an unknown one is explained", async ({ page, svc }) => {
  const email = newEmail("device-deny");
  await page.goto("/sign-up");
  await page.getByLabel("Name").fill("Ada Lovelace");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();

  const home = mkdtempSync(join(tmpdir(), "panguard-cli-"));
  try {
    const login = startCLI(home, svc.url, ["login", "--web", "--no-browser"]);
    await expect.poll(login.output, { timeout: 15_000 }).toMatch(/[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/);
    const code = login.output().match(/[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/)![0];

    await page.goto("/device");
    await page.getByLabel("Code").fill("BBBB-BBBB");
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page.getByRole("alert")).toContainText("No sign-in request is waiting with this code");
    await checkA11y(page, "device code form");
    // Typed as people type it: lower case, no dash.
    await page.getByLabel("Code").fill(code.replace("-", "").toLowerCase());
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByRole("button", { name: "Deny" }).click();
    await expect(page.getByRole("status")).toContainText("Denied");
    expect(await login.exit).toBe(1);
    expect(login.output()).toContain("The sign-in was denied in the browser");
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
