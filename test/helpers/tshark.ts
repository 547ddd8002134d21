/**
 * tshark as an independent decoder for the differential tests: runs it with the corpus
 * oracle's settings (defaults only, relative sequence numbers, IP reassembly on) and
 * returns the requested fields per frame.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let available: boolean | null = null;
let version = "";

export function tsharkAvailable(): boolean {
  if (available === null) {
    const r = spawnSync("tshark", ["-v"], { encoding: "utf8" });
    available = r.status === 0;
    version = available ? (r.stdout.split("\n")[0] ?? "") : "";
  }
  return available;
}

export function tsharkVersion(): string {
  tsharkAvailable();
  return version;
}

/** Same preferences as the corpus oracle (oracle.sh). */
const PREFS = [
  "-o",
  "tcp.analyze_sequence_numbers:TRUE",
  "-o",
  "tcp.relative_sequence_numbers:TRUE",
  "-o",
  "tcp.desegment_tcp_streams:TRUE",
  "-o",
  "tcp.check_checksum:FALSE",
  "-o",
  "ip.defragment:TRUE",
  "-o",
  "ipv6.defragment:TRUE",
];

/** An empty configuration directory: only Wireshark's defaults, whatever the user has set. */
const CONFIG_DIR = join(tmpdir(), "sockscope-tshark-empty-config");

/**
 * One object per tshark frame with the given fields (first occurrence of each: the
 * outermost header, not the one quoted inside an ICMP error). Empty string when absent.
 */
export async function tsharkFields(path: string, fields: readonly string[]): Promise<Record<string, string>[]> {
  mkdirSync(CONFIG_DIR, { recursive: true });
  const args = ["-r", path, "-n", ...PREFS, "-T", "fields", "-E", "occurrence=f", "-E", "separator=|"];
  for (const f of fields) args.push("-e", f);
  const out = await new Promise<string>((resolve) => {
    execFile(
      "tshark",
      args,
      {
        encoding: "utf8",
        maxBuffer: 1 << 28,
        env: { ...process.env, WIRESHARK_CONFIG_DIR: CONFIG_DIR, LC_ALL: "C" },
      },
      (_err: unknown, stdout: string) => {
        // tshark exits 2 on a file cut short but still prints what it read.
        resolve(stdout ?? "");
      },
    );
  });
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const cells = l.split("|");
      const row: Record<string, string> = {};
      fields.forEach((f, i) => {
        row[f] = cells[i] ?? "";
      });
      return row;
    });
}
