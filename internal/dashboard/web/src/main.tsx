// Panguard Auth dashboard: the account pages, over Connect with the generated client.
import { render, type ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { User } from "@panguard/auth-web";
import { auth } from "./api";
import { navigate, useLocation } from "./router";
import { useSession, type Session } from "./session";
import { Loading } from "./ui";
import { Account, ChangeEmail } from "./pages/account";
import { Admin } from "./pages/admin";
import { Data } from "./pages/data";
import { Device } from "./pages/device";
import { ConfirmEmail, ForgotPassword, ResetPassword, SignIn, SignUp, VerifyEmail } from "./pages/public";
import { Activity, Security, Sessions } from "./pages/security";
import "./style.css";

type Ctx = { session: Session; url: URL };
type Route = { title: string; page: (c: Ctx & { me: User }) => ComponentChildren; signedIn: true; admin?: boolean } | { title: string; page: (c: Ctx) => ComponentChildren; signedIn: false; guestOnly?: boolean };

// Pages that land with their own features get their paths here: /device (approve a CLI
// sign-in) and /passkeys.
const routes: Record<string, Route> = {
  "/sign-in": { title: "Sign in", signedIn: false, guestOnly: true, page: (c) => <SignIn session={c.session} url={c.url} /> },
  "/sign-up": { title: "Create account", signedIn: false, guestOnly: true, page: (c) => <SignUp session={c.session} /> },
  "/forgot-password": { title: "Forgot password", signedIn: false, page: () => <ForgotPassword /> },
  "/reset-password": { title: "New password", signedIn: false, page: (c) => <ResetPassword url={c.url} session={c.session} /> },
  "/verify-email": { title: "Verify email", signedIn: false, page: (c) => <VerifyEmail url={c.url} session={c.session} /> },
  "/confirm-email": { title: "Confirm email", signedIn: false, page: (c) => <ConfirmEmail url={c.url} session={c.session} /> },
  "/": { title: "Account", signedIn: true, page: (c) => <Account session={c.session} me={c.me} /> },
  "/security": { title: "Security", signedIn: true, page: (c) => <Security session={c.session} me={c.me} /> },
  "/sessions": { title: "Sessions", signedIn: true, page: (c) => <Sessions session={c.session} /> },
  "/activity": { title: "Activity", signedIn: true, page: () => <Activity /> },
  "/email": { title: "Change email", signedIn: true, page: (c) => <ChangeEmail me={c.me} /> },
  "/data": { title: "Your data", signedIn: true, page: (c) => <Data session={c.session} me={c.me} /> },
  "/admin": { title: "Administration", signedIn: true, admin: true, page: () => <Admin /> },
  "/device": { title: "Sign in a device", signedIn: true, page: (c) => <Device url={c.url} me={c.me} /> },
};

const nav: [string, string][] = [
  ["/", "Account"],
  ["/security", "Security"],
  ["/sessions", "Sessions"],
  ["/activity", "Activity"],
  ["/data", "Your data"],
];

function Header(p: { session: Session; path: string }) {
  const me = p.session.me;
  const [error, setError] = useState("");
  return (
    <header class="top">
      <div class="bar">
        <a class="brand" href="/">
          Panguard
        </a>
        {me && (
          <button
            type="button"
            class="quiet"
            onClick={async () => {
              try {
                await auth.logout({});
              } catch {
                setError("Could not reach the service; you may still be signed in.");
                return;
              }
              p.session.setMe(null);
              navigate("/sign-in", true);
            }}
          >
            Sign out
          </button>
        )}
      </div>
      {me && (
        <nav aria-label="Account">
          <ul>
            {[...nav, ...(me.role === "admin" ? [["/admin", "Admin"] as [string, string]] : [])].map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={p.path === href ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </header>
  );
}

function App() {
  const url = useLocation();
  const session = useSession();
  const route = routes[url.pathname];
  const me = session.me;
  const redirect = me === undefined || !route ? null : route.signedIn && me === null ? `/sign-in?next=${encodeURIComponent(url.pathname + url.search)}` : !route.signedIn && route.guestOnly && me ? "/" : null;
  useEffect(() => {
    if (redirect) navigate(redirect, true);
  }, [redirect]);
  useEffect(() => {
    document.title = `${route?.title ?? "Not found"} · Panguard`;
    document.querySelector<HTMLElement>("main h1")?.focus({ preventScroll: true });
  }, [url.pathname, me === undefined]);
  let body: ComponentChildren;
  if (!route) {
    body = (
      <div class="narrow">
        <h1 tabIndex={-1}>Page not found</h1>
        <p>
          There is nothing at this address. <a href="/">Go to your account</a>
        </p>
      </div>
    );
  } else if (me === undefined || redirect) {
    body = <Loading what="your account" />;
  } else if (route.signedIn) {
    body =
      route.admin && me!.role !== "admin" ? (
        <div class="narrow">
          <h1 tabIndex={-1}>Not allowed</h1>
          <p>This page is for administrators.</p>
        </div>
      ) : (
        route.page({ session, url, me: me! })
      );
  } else {
    body = route.page({ session, url });
  }
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header session={session} path={url.pathname} />
      <main id="main" tabIndex={-1}>
        {body}
      </main>
      <footer class="foot">
        {/* target="_self": /docs is its own page, not one of the app's, so the router lets it load. */}
        <a href="/docs" target="_self">
          API reference
        </a>
      </footer>
    </>
  );
}

render(<App />, document.getElementById("app")!);
