// Prints the gzipped size of the built app (every file in ../dist) and fails above the budget.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

const budget = 200 * 1024;
const root = new URL("../../dist", import.meta.url).pathname;
const files = [];
const walk = (d) => readdirSync(d).forEach((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : files.push(join(d, n))));
walk(root);
let total = 0;
for (const f of files.sort()) {
  const gz = gzipSync(readFileSync(f), { level: 9 }).length;
  total += gz;
  console.log(`  ${relative(root, f).padEnd(40)} ${(gz / 1024).toFixed(1).padStart(7)} KiB gzipped`);
}
console.log(`dashboard: ${(total / 1024).toFixed(1)} KiB gzipped in all (budget ${budget / 1024} KiB)`);
if (total > budget) {
  console.error("dashboard: over the size budget");
  process.exit(1);
}
