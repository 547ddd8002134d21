/**
 * The blind audit by family of host stack (issue 20): each judged row labelled with the
 * stacks of its connection's hosts, read off the capture with tshark (scripts/capture-stacks.mjs)
 * and named by sockscope's own stack-profile rules (dist/, built), and README.md's table of
 * precision per family (scripts/audit-by-stack.mjs). Labelling needs tshark: without it those
 * tests are skipped, the table's arithmetic is not.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readAudit, withBlock } from "../scripts/audit-lib.mjs";
import {
  FAMILY_TABLE_BEGIN,
  FAMILY_TABLE_END,
  familyTable,
  isLinuxRecording,
  labelRows,
} from "../scripts/audit-by-stack.mjs";
import { optionLayout, tsharkAvailable } from "../scripts/capture-stacks.mjs";
import { ROOT } from "./helpers/paths.js";

const hasTshark = tsharkAvailable();
if (!hasTshark) console.warn("audit-by-stack.test.ts: tshark is not on PATH; rows are not labelled from the packets");

interface Row {
  source: string;
  file: string;
  client: string;
  server: string;
  frame: number;
  verdict: string;
}

const row = (
  source: string,
  file: string,
  client: string,
  server: string,
  frame: number,
  verdict = "correct",
): Row => ({
  source,
  file: file.startsWith("fixtures/") ? file : `test/corpus/captures/${file}`,
  client,
  server,
  frame,
  verdict,
});

describe("stack families of the audit's rows", () => {
  it("writes tshark's option kinds as the decoder's layout, up to the first EOL", () => {
    expect(optionLayout([2, 1, 3, 1, 1, 8, 4, 0, 0])).toBe("MSS,NOP,WS,NOP,NOP,TS,SACK_PERM,EOL");
    expect(optionLayout([2, 4, 8, 1, 3])).toBe("MSS,SACK_PERM,TS,NOP,WS");
    expect(optionLayout([2, 30, 34])).toBe("MSS,K30,K34");
    expect(optionLayout([])).toBe("");
  });

  it("counts the fixtures as Linux, but not the hand-built ones", () => {
    expect(isLinuxRecording("fixtures/keepalive/answered.pcap")).toBe(true);
    expect(isLinuxRecording("fixtures/parallel/r10_synwait.pcap")).toBe(false);
    expect(isLinuxRecording("test/corpus/captures/arkime--imap.pcap")).toBe(false);
  });

  it("counts a row for each family among its sides, over all audits and since the endpoint model", () => {
    const rows = [
      row("audit1.tsv:2", "a.pcap", "c", "s", 1, "wrong"),
      row("audit3.tsv:2", "a.pcap", "c", "s", 1),
      row("audit4.tsv:2", "b.pcap", "c", "s", 1, "debatable"),
      row("audit4.tsv:3", "b.pcap", "c", "s", 1),
    ];
    const labels = new Map([
      ["audit1.tsv:2", { client: "Windows", server: "Linux", families: ["Windows", "Linux"] }],
      ["audit3.tsv:2", { client: "Windows", server: "Linux", families: ["Windows", "Linux"] }],
      ["audit4.tsv:2", { client: "FreeBSD", server: null, families: ["FreeBSD"] }],
      ["audit4.tsv:3", { client: null, server: null, families: ["unknown"] }],
    ]);
    expect(familyTable(rows, labels).split("\n").slice(2)).toEqual([
      "| Linux | 1–4 | 2 | 1 | 1 | 0 | 0.50 |",
      "| Linux | 3–4 | 1 | 1 | 0 | 0 | 1.00 |",
      "| macOS/iOS | 1–4 | 0 | 0 | 0 | 0 | – |",
      "| macOS/iOS | 3–4 | 0 | 0 | 0 | 0 | – |",
      "| Windows | 1–4 | 2 | 1 | 1 | 0 | 0.50 |",
      "| Windows | 3–4 | 1 | 1 | 0 | 0 | 1.00 |",
      "| FreeBSD | 1–4 | 1 | 0 | 0 | 1 | – |",
      "| FreeBSD | 3–4 | 1 | 0 | 0 | 1 | – |",
      "| unknown | 1–4 | 1 | 1 | 0 | 0 | 1.00 |",
      "| unknown | 3–4 | 1 | 1 | 0 | 0 | 1.00 |",
    ]);
    expect(() => familyTable(rows, new Map())).toThrow(/audit1.tsv:2: no stack family label/);
  });

  it.skipIf(!hasTshark)("tells each side's stack from its SYN or SYN-ACK, its TTL, or not at all", async () => {
    const rows = [
      // An iPhone's SIP over IPv6 inside GTP: the inner header's layout, not the tunnel's TTL.
      row("a:1", "arkime--gtp-iphone.pcap", "[fd00:183:1:1:1886:9040:8605:32b8]:5060", "[fd01::183]:5060", 9),
      // A Linux client (TTL 64, Linux's layout); a SYN-ACK with MSS alone and TTL 127: Windows.
      row("a:2", "arkime--imap.pcap", "131.151.32.21:4167", "131.151.37.122:143", 1),
      // A Windows client (TTL 128, MSS,NOP,WS,NOP,NOP,SACK_PERM); a SYN-ACK from TTL 255 no stack here starts from.
      row("a:3", "arkime--CVE-2018-6794.pcap", "192.168.235.1:53656", "192.168.235.136:8089", 18),
      // No endpoints (a finding on fragments) on another capture, and on a fixture.
      row("a:4", "zeek--ipv4-fragmented-1-udp.pcap", "", "", 1),
      row("a:5", "fixtures/fragment-loss/ipv4.pcap", "", "", 1),
      // Hand-built packets: TTL 64 and SYNs without options tell no stack.
      row("a:6", "fixtures/parallel/r10_synwait.pcap", "10.0.0.1:1000", "10.0.0.2:80", 5),
    ];
    const labels = await labelRows(rows, ROOT);
    expect(Object.fromEntries(labels)).toEqual({
      "a:1": { client: "macOS/iOS", server: "Linux", families: ["macOS/iOS", "Linux"] },
      "a:2": { client: "Linux", server: "Windows", families: ["Linux", "Windows"] },
      "a:3": { client: "Windows", server: null, families: ["Windows"] },
      "a:4": { client: null, server: null, families: ["unknown"] },
      "a:5": { client: "Linux", server: "Linux", families: ["Linux"] },
      "a:6": { client: null, server: null, families: ["unknown"] },
    });
  });

  it.skipIf(!hasTshark)("reads a damaged capture up to the damage, and says so", async () => {
    const warnings: string[] = [];
    const file = "suricata--http-mime-truncated-zwp.pcap";
    const labels = await labelRows([row("a:1", file, "1.8.31.101:49160", "194.32.78.251:80", 1)], ROOT, (m: string) =>
      warnings.push(m),
    );
    expect(labels.get("a:1")).toEqual({ client: "Windows", server: "Windows", families: ["Windows"] });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(`^test/corpus/captures/${file}: tshark read \\d+ TCP/UDP packets, then: .*cut short`),
    );
  });

  it.skipIf(!hasTshark)(
    "README's table by family of host stack is the audit's (node scripts/audit-table.mjs)",
    async () => {
      const rows = readAudit(join(ROOT, "test", "audit"));
      const readme = readFileSync(join(ROOT, "README.md"), "utf8");
      const table = familyTable(rows, await labelRows(rows, ROOT, () => {}));
      expect(withBlock(readme, FAMILY_TABLE_BEGIN, FAMILY_TABLE_END, table), "run node scripts/audit-table.mjs").toBe(
        readme,
      );
    },
    600_000,
  );
});
