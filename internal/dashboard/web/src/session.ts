// Who is signed in, as the service tells it (Me over the cookie); nothing about the session is
// stored in the page.
import { useEffect, useState } from "preact/hooks";
import type { User } from "@panguard/auth-web";
import { auth, isUnauthenticated } from "./api";

export type Session = {
  /** undefined while loading; null when signed out. */
  me: User | null | undefined;
  setMe: (u: User | null) => void;
  refresh: () => Promise<void>;
};

export function useSession(): Session {
  const [me, setMe] = useState<User | null | undefined>(undefined);
  const refresh = async () => {
    try {
      const r = await auth.me({});
      setMe(r.user ?? null);
    } catch (err) {
      if (isUnauthenticated(err)) setMe(null);
      else throw err;
    }
  };
  useEffect(() => {
    refresh().catch(() => setMe(null));
  }, []);
  return { me, setMe, refresh };
}
