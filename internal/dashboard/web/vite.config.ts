import { defineConfig } from "vite";

// The build lands in ../dist, which the Go package embeds (internal/dashboard/dashboard.go).
// `npm run dev` serves the app with live reload and proxies the API to a running service
// (`make run`, or PANGUARD_DEV_API).
const api = process.env.PANGUARD_DEV_API ?? "http://127.0.0.1:3000";

export default defineConfig({
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
  },
  resolve: {
    // The generated client lives in sdk/web (a linked package): one copy of the runtime.
    dedupe: ["@bufbuild/protobuf", "@connectrpc/connect"],
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      "/panguard.auth.v1.": { target: api, changeOrigin: false },
      "/api/": { target: api },
      "/docs": { target: api },
      "/.well-known/": { target: api },
    },
  },
});
