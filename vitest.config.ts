import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Golden files and times in reports must not depend on the machine's zone or locale.
    env: { TZ: "UTC", LANG: "C", NO_COLOR: "1" },
  },
});
