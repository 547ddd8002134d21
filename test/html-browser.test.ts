/**
 * The HTML report in a real browser: Debian's chromium driven by playwright-core, the
 * report opened from a file:// URL with every network request blocked (and none may be
 * attempted). Checks what a reader sees: the findings table, filtering, the graphs' data
 * (the window reaching zero), hover details, and that a capture crafted with markup in
 * its payload and file name runs nothing. Runs the built CLI (npm run build first).
 * Screenshots go to test/artifacts/ (gitignored).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page, type Request } from "playwright-core";
import { CLI, FIXTURES, ROOT } from "./helpers/paths.js";
import { runCapture } from "../src/pipeline.js";
import { buildReport } from "../src/report/model.js";
import { SeriesCollector, renderHtml } from "../src/report/html/index.js";
import { ETH_IPV4, ethernet, ipv4, pcapFile, tcp, type PcapRecord } from "./helpers/build.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(ROOT, "test", "artifacts");
const tmp = mkdtempSync(join(tmpdir(), "sockscope-html-"));

interface JsonFinding { kind: string; severity: string; flow: number | null; side: string | null; frames: number[] }

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: "1" }, maxBuffer: 256 << 20 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Writes the HTML report of a capture and returns its path and the JSON report's findings. */
function report(capture: string, name: string): { html: string; findings: JsonFinding[] } {
  const html = join(tmp, `${name}.html`);
  const r = cli(["analyze", "--format", "html", "-o", html, capture]);
  expect(r.code, r.stderr).toBe(0);
  const json = JSON.parse(cli(["analyze", "--format", "json", capture]).stdout) as { findings: JsonFinding[] };
  return { html, findings: json.findings };
}

/**
 * A TCP connection whose payloads and file name carry markup: if any of it were parsed as
 * HTML, window.__pwned would be set. The server closes, the client writes once more and
 * gets a reset (rst-after-fin), so the flow has a finding and its graphs are drawn.
 */
function maliciousCapture(): string {
  const C = 0x0a000001, S = 0x0a000002, CP = 40000, SP = 80;
  const enc = (s: string) => new TextEncoder().encode(s);
  const a = enc("<img src=x onerror=window.__pwned=2>");
  const b = enc("</script><script>window.__pwned=1</script>");
  const more = enc("<svg onload=window.__pwned=4>");
  let t = 0;
  const seg = (fromClient: boolean, seq: number, ack: number, flags: number, payload = new Uint8Array(0)): PcapRecord => {
    t += 1000;
    const l4 = tcp({ srcPort: fromClient ? CP : SP, dstPort: fromClient ? SP : CP, seq, ack, flags, win: 65535, payload });
    return { tsSec: 1_700_000_000, tsFrac: t, data: ethernet(ETH_IPV4, ipv4({ src: fromClient ? C : S, dst: fromClient ? S : C, proto: 6, payload: l4 })) };
  };
  const SYN = 2, ACK = 16, PSH = 8, FIN = 1, RST = 4;
  const c0 = 1000, s0 = 5000;
  const records = [
    seg(true, c0, 0, SYN),
    seg(false, s0, c0 + 1, SYN | ACK),
    seg(true, c0 + 1, s0 + 1, ACK),
    seg(true, c0 + 1, s0 + 1, PSH | ACK, a),
    seg(false, s0 + 1, c0 + 1 + a.length, PSH | ACK, b),
    seg(false, s0 + 1 + b.length, c0 + 1 + a.length, FIN | ACK),
    seg(true, c0 + 1 + a.length, s0 + 2 + b.length, PSH | ACK, more),
    seg(false, s0 + 2 + b.length, 0, RST),
  ];
  const dir = join(tmp, "evil");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "evil<img src=x onerror=window.__pwned=3>.pcap");
  writeFileSync(file, pcapFile(records));
  return file;
}

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium package`);

describe.skipIf(!haveChromium)("HTML report in Chromium", () => {
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  /**
   * Opens a report with all network blocked; records every request the page attempts
   * and every console error, CSP violation or uncaught exception.
   */
  async function open(html: string): Promise<{ page: Page; requests: string[]; problems: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const url = pathToFileURL(html).href;
    const requests: string[] = [];
    // The reports this test wrote may be opened (navigated to); nothing else may be fetched.
    const allowed = (r: Request) => r.isNavigationRequest() && r.url().startsWith(pathToFileURL(tmp).href + "/") && r.url().endsWith(".html");
    const note = (r: Request) => { if (!allowed(r) && !requests.includes(r.url())) requests.push(r.url()); };
    const problems: string[] = [];
    await context.route("**/*", async (route) => {
      if (allowed(route.request())) await route.continue();
      else { note(route.request()); await route.abort(); }
    });
    page.on("request", note);
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`); });
    page.on("pageerror", (e) => problems.push(`exception: ${e.message}`));
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]");
    return { page, requests, problems };
  }

  async function rows(page: Page): Promise<{ kind: string; severity: string; flow: string }[]> {
    return page.$$eval("#findings-table tbody tr.finding", (trs) => trs.map((tr) => {
      const d = (tr as HTMLElement).dataset;
      return { kind: d.kind!, severity: d.severity!, flow: d.flow! };
    }));
  }
  const key = (r: { kind: string; severity: string; flow: string | number | null }) => `${r.kind}/${r.severity}/${r.flow ?? ""}`;

  it("lists every finding of the fixtures in the findings table", async () => {
    for (const f of ["zero-window/stalled-reader", "retransmission/fast", "rst-after-fin/write-after-close", "time-wait-reuse/server-tw-no-timestamps"]) {
      const { html, findings } = report(join(FIXTURES, `${f}.pcap`), f.replace("/", "-"));
      const { page, requests, problems } = await open(html);
      expect(findings.length).toBeGreaterThan(0);
      expect((await rows(page)).map(key).sort()).toEqual(findings.map(key).sort());
      // Summaries are shown as text, verbatim.
      const summaries = await page.$$eval("#findings-table td.summary", (tds) => tds.map((td) => td.textContent));
      expect(summaries.sort()).toEqual((findings as unknown as { summary: string }[]).map((x) => x.summary).sort());
      expect(requests).toEqual([]);
      expect(problems).toEqual([]);
      await page.context().close();
    }
  });

  it("draws the stalled reader's window reaching zero, highlights the finding's frames, and shows frame fields on hover", async () => {
    const { html, findings } = report(join(FIXTURES, "zero-window", "stalled-reader.pcap"), "zero-window");
    const zw = findings.find((f) => f.kind === "zero-window")!;
    expect(zw.side).toBe("server");
    const { page, requests, problems } = await open(html);
    // Open the finding and use its button, as a reader would.
    await page.click(`#findings-table tr.finding[data-kind="zero-window"]`);
    await expect.poll(() => page.locator("tr.detail .explanation").textContent()).toMatch(/window/);
    await page.click("tr.detail button.show-graph");
    const win = page.locator(`#flow-${zw.flow} .chart-win`);
    await win.waitFor();
    // The data handed to the chart: the server's advertised window reaches zero, the client's does not.
    const ds = await win.evaluate((e) => ({ ...(e as HTMLElement).dataset }));
    expect(ds.minWindowServer).toBe("0");
    expect(Number(ds.minWindowClient)).toBeGreaterThan(0);
    expect(Number(ds.zeroWindows)).toBeGreaterThan(0);
    const series = await page.evaluate((id) => {
      const u = (window as any).sockscope.charts[id!].win;
      const labels = u.series.map((s: { label: string }) => s.label);
      const server = u.data[labels.indexOf("server's window")].filter((v: number | null) => v !== null);
      const hl = u.data[labels.indexOf("cited frames")].filter((v: number | null) => v !== null).length;
      return { min: Math.min(...server), max: Math.max(...server), hl, n: u.data[0].length };
    }, zw.flow);
    expect(series.min).toBe(0);
    expect(series.max).toBeGreaterThan(0);
    // The selected finding's frames are highlighted (those drawn in this graph).
    expect(series.hl).toBeGreaterThan(0);
    expect(series.hl).toBeLessThanOrEqual(zw.frames.length);
    const chips = await page.$$eval(`#flow-${zw.flow} .chip.on`, (cs) => cs.map((c) => c.textContent));
    expect(chips.join()).toMatch(/zero-window/);

    // Hover: a tooltip with the frame number and its fields.
    const over = win.locator(".u-over");
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    const tip = page.locator(".tooltip");
    await expect.poll(() => tip.isVisible()).toBe(true);
    const text = (await tip.textContent())!;
    expect(text).toMatch(/frame \d+/);
    expect(text).toMatch(/window [\d,]+/);
    expect(text).toMatch(/seq [\d,]+/);

    // The sequence graph of the client's data is there too, with the ack line.
    const seq = await page.evaluate((id) => {
      const u = (window as any).sockscope.charts[id!].seq[0];
      return u.series.map((s: { label: string }) => s.label);
    }, zw.flow);
    expect(seq).toEqual(expect.arrayContaining(["data (client)", "ack (server)", "server window: ack + win"]));

    await page.mouse.move(0, 0);
    await page.evaluate(() => window.scrollTo({ top: 0, behavior: "instant" }));
    await page.screenshot({ path: join(ARTIFACTS, "html-report-zero-window.png"), fullPage: true });
    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("filters and sorts the findings table", async () => {
    const { html, findings } = report(join(FIXTURES, "time-wait-reuse", "server-tw-no-timestamps.pcap"), "filter");
    const { page, problems } = await open(html);
    const kinds = [...new Set(findings.map((f) => f.kind))];
    expect(kinds.length).toBeGreaterThan(1);
    for (const k of kinds) {
      await page.selectOption("#filter-kind", k);
      const r = await rows(page);
      expect(r.length).toBe(findings.filter((f) => f.kind === k).length);
      expect(r.every((x) => x.kind === k)).toBe(true);
      expect(await page.textContent("#findings-count")).toMatch(new RegExp(`showing ${r.length} of ${r.length}`));
    }
    await page.selectOption("#filter-kind", "");
    expect((await rows(page)).length).toBe(findings.length);

    await page.selectOption("#filter-severity", "info");
    expect((await rows(page)).length).toBe(findings.filter((f) => f.severity === "info").length);
    await page.selectOption("#filter-severity", "");

    const flows = [...new Set(findings.map((f) => f.flow))].filter((f) => f !== null);
    expect(flows.length).toBeGreaterThan(1);
    await page.selectOption("#filter-flow", String(flows[1]));
    const r = await rows(page);
    expect(r.length).toBe(findings.filter((f) => f.flow === flows[1]).length);
    expect(r.every((x) => x.flow === String(flows[1]))).toBe(true);
    await page.selectOption("#filter-flow", "");

    await page.fill("#filter-text", "no-match-at-all");
    expect((await rows(page)).length).toBe(0);
    await page.fill("#filter-text", "");

    // Sorting by kind, both ways.
    await page.click(`#findings-table th[data-key="kind"]`);
    const asc = (await rows(page)).map((x) => x.kind);
    expect(asc).toEqual([...asc].sort());
    await page.click(`#findings-table th[data-key="kind"]`);
    const desc = (await rows(page)).map((x) => x.kind);
    expect(desc).toEqual([...asc].sort().reverse());

    // The flow list filters too, and opens any flow's graphs on demand.
    await page.fill("#flow-filter", ":5");
    const listed = await page.$$eval("#flows-table tbody tr", (trs) => trs.length);
    expect(listed).toBeGreaterThan(0);
    await page.fill("#flow-filter", "");
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it("runs nothing from a capture crafted with markup in its payload and file name", async () => {
    const capture = maliciousCapture();
    const { html, findings } = report(capture, "malicious");
    expect(findings.length).toBeGreaterThan(0);
    const { page, requests, problems } = await open(html);
    // Give any injected handler a chance to run: open the flow's graphs and hover them.
    await page.evaluate(() => (window as any).sockscope.showFlow(1, null));
    await page.locator("#flow-1 .chart").first().waitFor();
    const over = page.locator("#flow-1 .u-over").first();
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.waitForTimeout(200);
    const state = await page.evaluate(() => ({
      pwned: (window as any).__pwned,
      imgs: document.querySelectorAll("img, svg:not(.u-legend svg)").length,
      scripts: document.querySelectorAll("script").length,
      title: document.title,
      body: document.body.textContent,
    }));
    expect(state.pwned).toBeUndefined();
    expect(state.imgs).toBe(0);
    expect(state.scripts).toBe(3); // the data block, uPlot, the page's own
    // The markup is shown as text, verbatim.
    expect(state.title).toContain("<img src=x onerror=window.__pwned=3>");
    expect(state.body).toContain("evil<img src=x onerror=window.__pwned=3>.pcap");
    expect(state.body).toContain("<img src=x onerror=window.__pwned=2>");
    expect(state.body).toContain("</script><script>window.__pwned=1</script>");
    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
    await page.evaluate(() => window.scrollTo({ top: 0, behavior: "instant" }));
    await page.screenshot({ path: join(ARTIFACTS, "html-report-malicious.png"), fullPage: true });
    await page.context().close();
  });

  it("opens every fixture's report without errors and draws every flow's graphs", async () => {
    const files = readdirSync(FIXTURES, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== "scenarios")
      .flatMap((d) => readdirSync(join(FIXTURES, d.name)).map((f) => `${d.name}/${f}`))
      .filter((f) => /\.pcap(ng)?$/.test(f)).sort();
    expect(files.length).toBeGreaterThan(40);
    mkdirSync(join(tmp, "all"), { recursive: true });
    // One page for all (rendered in-process, not through the CLI: this is about the page).
    let page: Page | null = null, requests: string[] = [], problems: string[] = [];
    for (const f of files) {
      let html: string;
      try {
        const series = new SeriesCollector();
        const { info, engine } = await runCapture(join(FIXTURES, f), { observer: series.observe });
        if (info.error !== null && info.packets === 0) continue;
        html = join(tmp, "all", `${f.replace(/[/.]/g, "-")}.html`);
        writeFileSync(html, renderHtml(buildReport(info, engine), series));
      } catch {
        continue; // unreadable on purpose (format fixtures)
      }
      if (page === null) ({ page, requests, problems } = await open(html));
      else {
        await page.goto(pathToFileURL(html).href);
        await page.waitForSelector("body[data-ready=true]");
      }
      const drawn = await page.evaluate(() => {
        const s = (window as any).sockscope;
        const out: [number, number][] = [];
        for (const id of Object.keys(s.data.series).map(Number)) {
          s.showFlow(id, null);
          const c = s.charts[id];
          const charts = [...c.seq.filter(Boolean), c.win, c.udp].filter(Boolean);
          out.push([id, charts.length === 0 ? -1 : Math.min(...charts.map((u: any) => u.data[0].length))]);
        }
        return out;
      });
      for (const [id, n] of drawn) expect(n, `${f} flow ${id}`).toBeGreaterThan(0);
      expect(requests, f).toEqual([]);
      expect(problems, f).toEqual([]);
    }
    await page?.context().close();
  });

  it("keeps a big capture's report small and its graphs downsampled", async () => {
    const big = join(ROOT, "bench", "out", "bench.pcap");
    if (!existsSync(big)) return; // made by npm run bench; not in a fresh clone
    const { html } = report(big, "bench");
    const size = statSync(html).size;
    expect(size).toBeLessThan(8 << 20);
    const { page, requests, problems } = await open(html);
    const drawn = await page.evaluate(() => {
      const d = (window as any).sockscope.data;
      return Object.values(d.series).map((s: any) => [s.n, s.d]);
    });
    expect(drawn.some(([n, d]) => d < n)).toBe(true);
    expect(drawn.every(([, d]) => d <= 4000)).toBe(true);
    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
