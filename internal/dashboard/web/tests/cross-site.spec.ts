// Cross-site request forgery, for real: a signed-in person opens a page from another origin
// that posts forms and no-cors fetches at the service's Connect endpoints, and the service
// must act on none of them. From another port of the same host the browser does send the
// SameSite=Strict cookie (a site ignores ports), so there the service's own rule — the cookie
// counts only beside a Connect or gRPC-web header — is what holds: with that rule removed the
// read-only RPCs' GET form answers 200 and this test fails. From another site the browser
// keeps the cookie home as well.
import { createServer, type Server } from "node:http";
import { checkA11y, expect, newEmail, signUp, test } from "./fixtures";

type Attacker = { origin: string; cookies: string[]; close: () => Promise<void> };

/** An attacker's site on another port of host: one page that fires every request it can. */
async function attacker(host: string, service: string): Promise<Attacker> {
  const cookies: string[] = [];
  const rpc = (m: string) => `${service}/panguard.auth.v1.AuthService/${m}`;
  // A text/plain form can carry a JSON body: name `{"name":"Pwned","x":"` and value `"}`.
  const page = `<!doctype html><html lang="en"><head><title>Win a prize</title></head><body>
<iframe name="f1"></iframe><iframe name="f2"></iframe><iframe name="f3"></iframe>
<form id="rename" method="post" enctype="text/plain" target="f1" action="${rpc("UpdateMe")}"><input name='{"name":"Pwned by a form","x":"' value='"}'></form>
<form id="logout" method="post" target="f2" action="${rpc("Logout")}"><input name="a" value="b"></form>
<form id="revoke" method="post" enctype="multipart/form-data" target="f3" action="${rpc("RevokeOtherSessions")}"><input name="a" value="b"></form>
<script>
const loaded = (f) => new Promise((r) => { f.onload = r; setTimeout(r, 3000); });
(async () => {
  const log = [];
  // What the browser sends to this site's own server: the cookie travels within a site.
  await fetch("/seen", { method: "POST", credentials: "include" });
  for (const [m, body] of [["UpdateMe", '{"name":"Pwned by fetch"}'], ["Logout", "{}"], ["RevokeOtherSessions", "{}"]]) {
    // no-cors: the browser sends it (with cookies), only the answer is hidden from the page.
    try { await fetch(${JSON.stringify(service)} + "/panguard.auth.v1.AuthService/" + m, { method: "POST", mode: "no-cors", credentials: "include", headers: { "Content-Type": "application/json" }, body }); log.push(m + " no-cors sent"); } catch (e) { log.push(m + " no-cors " + e); }
    // With the Connect header the browser must ask first (a preflight), which the service refuses.
    try { await fetch(${JSON.stringify(service)} + "/panguard.auth.v1.AuthService/" + m, { method: "POST", credentials: "include", headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1" }, body }); log.push(m + " cors answered"); } catch (e) { log.push(m + " cors blocked"); }
  }
  // Connect's GET form of the read-only RPCs is a simple request: a no-cors fetch
  // sends it with cookies. The page cannot read the answer, but the service must not even
  // produce the account's data for it.
  for (const m of ["Me", "ListSessions"]) {
    const url = ${JSON.stringify(service)} + "/panguard.auth.v1.AuthService/" + m + "?connect=v1&encoding=json&message=%7B%7D";
    await fetch(url + "&via=fetch", { mode: "no-cors", credentials: "include" }).catch(() => {});
  }
  for (const [id, f] of [["rename", "f1"], ["logout", "f2"], ["revoke", "f3"]]) {
    const done = loaded(document.getElementsByName(f)[0]);
    document.getElementById(id).submit();
    await done;
  }
  document.body.dataset.log = log.join("\\n");
  document.title = "done";
})();
</script></body></html>`;
  const server: Server = createServer((req, res) => {
    if (req.url === "/seen") {
      cookies.push(req.headers.cookie ?? "");
      res.end("ok");
      return;
    }
    res.setHeader("Content-Type", "text/html; charset=utf-8");
    res.end(page);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { origin: `http://${host}:${port}`, cookies, close: () => new Promise((r) => server.close(() => r())) };
}

// The attacker's host is the service's own (another port: the same site, so the browser sends the
// cookie) or the other loopback name (another site, so SameSite=Strict keeps the cookie home).
for (const [sameSite, kind] of [
  [true, "same-site (another port): the browser sends the cookie"],
  [false, "cross-site: SameSite=Strict keeps the cookie home"],
] as const) {
  test(`forms and no-cors fetches from another origin change nothing — ${kind}`, async ({ page, context, svc }) => {
    const email = newEmail("csrf");
    await signUp(page, email);
    const other = await context.browser()!.newContext();
    const second = await other.newPage();
    await second.goto(svc.url + "/sign-in");
    await second.getByLabel("Email").fill(email);
    await second.getByLabel("Password").fill("correct horse battery");
    await second.getByRole("button", { name: "Sign in" }).click();
    await expect(second.getByRole("heading", { name: "Your account" })).toBeVisible();

    const home = new URL(svc.url).hostname;
    const host = sameSite ? home : home === "localhost" ? "127.0.0.1" : "localhost";
    const evil = await attacker(host, svc.url);
    try {
      const rpcs: string[] = [];
      const reads: string[] = [];
      page.on("request", (r) => {
        if (r.url().startsWith(svc.url + "/panguard.auth.v1.")) rpcs.push(`${r.method()} ${new URL(r.url()).pathname}`);
      });
      page.on("response", (r) => {
        const u = new URL(r.url());
        if (r.request().method() === "GET" && u.pathname.startsWith("/panguard.auth.v1.")) reads.push(`${u.pathname.split("/").pop()} ${u.searchParams.get("via")} ${r.status()}`);
      });
      await page.goto(evil.origin + "/");
      await expect(page).toHaveTitle("done", { timeout: 20_000 });
      // The forms and the no-cors fetches did reach the service (so its refusal, not the
      // browser, is what is tested); the preflighted ones were stopped at the preflight.
      for (const m of ["UpdateMe", "Logout", "RevokeOtherSessions"]) {
        expect(rpcs.filter((r) => r === `POST /panguard.auth.v1.AuthService/${m}`).length, m).toBeGreaterThanOrEqual(2);
      }
      // The reads reached the service and it answered as to a stranger.
      expect(reads.sort()).toEqual(["ListSessions fetch 401", "Me fetch 401"]);
      const log = (await page.locator("body").getAttribute("data-log")) ?? "";
      expect(log).toContain("UpdateMe cors blocked");
      expect(log).not.toContain("cors answered");
      if (sameSite) expect(evil.cookies.join(";")).toContain("panguard_session=");
      else expect(evil.cookies.join(";")).not.toContain("panguard_session=");
    } finally {
      await evil.close();
    }

    // Back home: still signed in, the name unchanged, the other session alive.
    await page.goto(svc.url + "/");
    await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
    await expect(page.getByRole("form", { name: "Profile" }).getByLabel("Name")).toHaveValue("Ada Lovelace");
    await page.getByRole("link", { name: "Sessions" }).click();
    await expect(page.getByRole("button", { name: /^Sign out session / })).toHaveCount(1);
    await page.getByRole("link", { name: "Activity" }).click();
    await expect(page.getByText("Account created")).toBeVisible();
    await expect(page.getByText("Signed out", { exact: true })).toHaveCount(0);
    await checkA11y(page, "activity after the attack");
    await second.reload();
    await expect(second.getByRole("heading", { name: "Your account" })).toBeVisible();
    await other.close();
  });
}
