import { defineConfig } from "@playwright/test";

// Browser tests against a real service process (tests/fixtures.ts), in Debian's Chromium.
export default defineConfig({
  testDir: "tests",
  globalSetup: "./tests/global-setup.ts",
  outputDir: "test-results/artifacts",
  workers: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.PANGUARD_CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
    headless: true,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    trace: "retain-on-failure",
  },
});
