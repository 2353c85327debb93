// The API reference at /docs: openapi.yaml rendered in the browser by assets the binary serves.
import AxeBuilder from "@axe-core/playwright";
import { expect, screenshots, test } from "./fixtures";

test("/docs renders the API contract from this origin alone, under the CSP", async ({ page, svc }) => {
  const origins = new Set<string>();
  page.on("request", (r) => origins.add(new URL(r.url()).origin));
  // Every violation the page sees, not only those Chromium logs to the console.
  await page.addInitScript(() => {
    (window as unknown as { violations: string[] }).violations = [];
    document.addEventListener("securitypolicyviolation", (e) => (window as unknown as { violations: string[] }).violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const res = await page.goto("/docs");
  expect(res!.status()).toBe(200);
  expect(res!.headers()["content-security-policy"]).toContain("script-src 'self'");
  await expect(page).toHaveTitle("API reference · Panguard Auth");
  const login = page.locator(".opblock").filter({ has: page.getByText("/api/auth/login", { exact: true }) });
  await expect(login).toBeVisible();
  await expect(login.getByText("login", { exact: true })).toBeVisible(); // its operationId
  await login.locator(".opblock-summary").click();
  await expect(login.getByText("LoginRequest").or(login.getByText("secureP@ssw0rd")).first()).toBeVisible();
  expect([...origins]).toEqual([svc.url]);
  expect(await page.evaluate(() => (window as unknown as { violations: string[] }).violations)).toEqual([]);
  // axe as on every page, but for one rule: Swagger UI draws each operation's summary as a
  // button holding links and a copy button ("nested-interactive"), markup of the vendored
  // renderer this page cannot change. Everything else must pass.
  const r = await new AxeBuilder({ page }).disableRules(["nested-interactive"]).analyze();
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), "axe on /docs").toEqual([]);
  await screenshots(page, "docs");
});

test("the app links to the API reference, which loads as its own page", async ({ page }) => {
  await page.goto("/sign-in");
  await page.getByRole("contentinfo").getByRole("link", { name: "API reference" }).click();
  await expect(page).toHaveURL(/\/docs$/);
  await expect(page).toHaveTitle("API reference · Panguard Auth");
});
