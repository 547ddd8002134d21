/**
 * Tests that need something of the machine (root, a tool, a server package): describe()
 * that runs when nothing is missing, skips with the reason printed when something is, and
 * fails instead under CI=1, where .ci/run installs everything.
 */
import { describe, it } from "vitest";

export function describeIfReady(name: string, missing: string | null, body: () => void): void {
  if (missing === null) {
    describe(name, body);
    return;
  }
  if (process.env.CI) {
    describe(name, () => {
      it("preconditions (CI must run these tests)", () => {
        throw new Error(`cannot run in CI: ${missing}`);
      });
    });
    return;
  }
  console.log(`skipping "${name}": ${missing}`);
  describe.skip(name, body);
}
