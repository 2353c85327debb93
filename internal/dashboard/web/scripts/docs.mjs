// Builds /docs into ../dist: the API reference page, Swagger UI from the pinned
// swagger-ui-dist package (no CDN), and its start-up script, each asset named by its content
// hash under assets/docs-* (cached as immutable, like the app's), the page as docs/index.html.
// Runs after `vite build` (which empties dist); its output is reproducible.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, extname } from "node:path";

const web = new URL("..", import.meta.url).pathname;
const dist = new URL("../../dist/", import.meta.url).pathname;
const ui = web + "node_modules/swagger-ui-dist/";
// The bundle's source-map comment would make browsers ask for a map that is not shipped.
const noMap = (s) => s.replace(/\n?\/[/*]# sourceMappingURL=\S+?(\s*\*\/)?\s*$/, "\n");
const sources = {
  "swagger-ui-bundle.js": noMap(readFileSync(ui + "swagger-ui-bundle.js", "utf8")),
  "swagger-ui.css": noMap(readFileSync(ui + "swagger-ui.css", "utf8")),
  "start.js": readFileSync(web + "docs/start.js", "utf8"),
  "page.css": readFileSync(web + "docs/page.css", "utf8"),
};
mkdirSync(dist + "assets", { recursive: true });
mkdirSync(dist + "docs", { recursive: true });
let page = readFileSync(web + "docs/index.html", "utf8");
for (const [name, body] of Object.entries(sources)) {
  const hash = createHash("sha256").update(body).digest("base64url").slice(0, 8);
  const file = `assets/docs-${basename(name, extname(name))}-${hash}${extname(name)}`;
  writeFileSync(dist + file, body);
  page = page.replaceAll(`%${name}%`, "/" + file);
}
writeFileSync(dist + "docs/index.html", page);
// Swagger UI's licence travels with it.
writeFileSync(dist + "docs/swagger-ui-LICENSE.txt", readFileSync(ui + "LICENSE", "utf8") + "\n" + readFileSync(ui + "swagger-ui-bundle.js.LICENSE.txt", "utf8"));
