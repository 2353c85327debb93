// Prints the gzipped size of the built app (every file in ../dist but the API reference's)
// and fails above the budget; prints the API reference's (/docs: the page, Swagger UI and its
// start-up files) apart, since only people reading the API docs load it.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

const budget = 200 * 1024;
const root = new URL("../../dist", import.meta.url).pathname;
const files = [];
const walk = (d) => readdirSync(d).forEach((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : files.push(join(d, n))));
walk(root);
let app = 0;
let docs = 0;
for (const f of files.sort()) {
  const name = relative(root, f);
  const gz = gzipSync(readFileSync(f), { level: 9 }).length;
  if (name.startsWith("docs/") || name.startsWith("assets/docs-")) docs += gz;
  else app += gz;
  console.log(`  ${name.padEnd(48)} ${(gz / 1024).toFixed(1).padStart(7)} KiB gzipped`);
}
console.log(`dashboard: ${(app / 1024).toFixed(1)} KiB gzipped in all (budget ${budget / 1024} KiB)`);
console.log(`/docs (API reference, loaded only there): ${(docs / 1024).toFixed(1)} KiB gzipped`);
if (app > budget) {
  console.error("dashboard: over the size budget");
  process.exit(1);
}
