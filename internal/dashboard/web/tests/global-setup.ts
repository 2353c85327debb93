// Builds the service once for the run (unless PANGUARD_E2E_BIN names a binary already built).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

export default function globalSetup() {
  if (process.env.PANGUARD_E2E_BIN) return;
  const repo = resolve(fileURLToPath(import.meta.url), "../../../../..");
  const out = resolve(fileURLToPath(import.meta.url), "../../test-results/panguard-auth");
  mkdirSync(resolve(out, ".."), { recursive: true });
  execFileSync("go", ["build", "-o", out, "./service"], { cwd: repo, stdio: "inherit" });
  process.env.PANGUARD_E2E_BIN = out;
}
