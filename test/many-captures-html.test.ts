/**
 * The many-capture HTML page in a real browser (Debian's chromium through playwright-core,
 * network blocked): each capture's own page runs in its sandboxed srcdoc frame (its script
 * marks body[data-ready]), so neither the frame's sandbox nor the outer page stops it, and
 * nothing is fetched. Runs the built CLI.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { CLI, FIXTURES } from "./helpers/paths.js";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);

describe.skipIf(!haveChromium)("many-capture HTML in Chromium (skipped without /usr/bin/chromium)", () => {
  it("every capture's page runs in its frame, with its findings; nothing is fetched", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-many-html-"));
    copyFileSync(join(FIXTURES, "rst-after-fin", "write-after-close.pcap"), join(dir, "a.pcap"));
    copyFileSync(join(FIXTURES, "zero-window", "stalled-reader.pcap"), join(dir, "b.pcap"));
    writeFileSync(join(dir, "c.pcap"), "not a capture\n");
    const out = join(tmpdir(), `sockscope-many-${process.pid}.html`);
    const r = spawnSync(process.execPath, [CLI, "analyze", "-F", "html", "-o", out, dir], { encoding: "utf8" });
    expect(r.status).toBe(2); // c.pcap is no capture; the page still has the other two
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox"] });
    try {
      const page = await browser.newPage();
      const fetched: string[] = [];
      await page.route("**/*", async (route) => {
        if (route.request().url() === pathToFileURL(out).href) await route.continue();
        else {
          fetched.push(route.request().url());
          await route.abort();
        }
      });
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(e.message));
      await page.goto(pathToFileURL(out).href);
      const frames = page.frames().filter((f) => f !== page.mainFrame());
      expect(frames).toHaveLength(2);
      for (const f of frames) await f.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
      const kinds = await Promise.all(
        frames.map((f) =>
          f.$$eval("#findings-table tbody tr.finding", (trs) => trs.map((tr) => (tr as HTMLElement).dataset.kind)),
        ),
      );
      expect(kinds[0]).toContain("rst-after-fin");
      expect(kinds[1]).toContain("zero-window");
      expect(await page.textContent("body")).toContain("not read: ");
      expect(fetched).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
