/**
 * `live --sink`: rows as flows end and findings fire, sent about once a second in batches.
 *
 * The session's `captures` row goes first, so its rows count (stored_* views) as they
 * arrive: each row is whole on its own, unlike a capture file's half-written set. Rows are
 * keyed by the session id and their place (flow id, finding number): sending one twice (a
 * batch whose answer was lost) is folded by ReplacingMergeTree.
 *
 * When the server is away the batch goes to the spool file (spool-file.ts), and that is said
 * once; retries follow with backoff (1 s doubling to 30 s), each first replaying the spool,
 * then sending what came meanwhile; when one succeeds, the catch-up is said. At the end the
 * rest is sent once more; if the server is still away, the spool stays, and its path is said:
 * the next `live --sink` with the same spool sends it first.
 */
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { homedir, hostname } from "node:os";
import { join } from "node:path";
import type { Finding } from "../analyze/finding.js";
import type { FlowReport } from "../analyze/result.js";
import type { FlowEndReason } from "../decode/flow/lifecycle.js";
import { ClickHouseConnection } from "./clickhouse-connection.js";
import { captureRow, findingRow, flowRow, type CaptureIdentity } from "./clickhouse-rows.js";
import { describeTarget, SinkError, type ClickHouseTarget } from "./clickhouse-target.js";
import { SpoolFile, type SpooledRow } from "./spool-file.js";

/** Rows are sent this often, or sooner when this many wait. */
export const LIVE_FLUSH_MS = 1000;
const FLUSH_ROWS = 20_000;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** Rows per INSERT when the spool is replayed. */
const REPLAY_BATCH = 50_000;
/** The spool's default bound. */
export const SPOOL_MAX_BYTES = 256 << 20;

/** Where rows wait by default: one spool per server and database, under the user's cache directory. */
export function defaultSpoolPath(t: ClickHouseTarget, env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  const name = `${t.url.replace(/^https?:\/\//, "").replace(/[^A-Za-z0-9.-]+/g, "_")}-${t.database}.spool`;
  return join(cache, "sockscope", "clickhouse", name);
}

export interface LiveSinkOptions {
  target: ClickHouseTarget;
  spoolPath: string;
  spoolMaxBytes?: number;
  /** The interface and the host name captured on. */
  iface: string;
  host: string;
  version: string;
  /** One line for stderr. */
  say: (line: string) => void;
}

export class LiveSink {
  readonly identity: CaptureIdentity;
  private readonly conn: ClickHouseConnection;
  private readonly spool: SpoolFile;
  private pending: SpooledRow[] = [];
  private readonly findingCounts = new Map<number, { total: number; errors: number }>();
  private findings = 0;
  private flows = 0;
  private schemaReady = false;
  /** Since when the server is away (null: it is not), and when to try again. */
  private downSince: number | null = null;
  private retryAt = 0;
  private retryMs = RETRY_FIRST_MS;
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly start = Date.now() / 1000;
  private droppedSaid = false;

  constructor(private readonly o: LiveSinkOptions) {
    this.identity = { captureId: randomBytes(32).toString("hex"), file: `live:${o.iface}`, host: o.host };
    this.conn = new ClickHouseConnection(o.target);
    this.spool = new SpoolFile(o.spoolPath, o.spoolMaxBytes ?? SPOOL_MAX_BYTES);
    if (this.spool.rows > 0)
      o.say(
        `${this.spool.rows} row(s) left by an earlier run in ${o.spoolPath}: sending them to ${this.where()} first`,
      );
    this.pending.push({ t: "captures", r: this.captureRow(null) });
    this.timer = setInterval(() => void this.flush(), LIVE_FLUSH_MS);
    this.timer.unref();
  }

  finding(f: Finding, fr: FlowReport | null): void {
    if (f.flow !== null) {
      let c = this.findingCounts.get(f.flow);
      if (c === undefined) this.findingCounts.set(f.flow, (c = { total: 0, errors: 0 }));
      c.total++;
      if (f.severity === "error") c.errors++;
    }
    this.push("findings", findingRow(this.identity, f, fr, this.findings++));
  }

  flowEnded(fr: FlowReport, why: FlowEndReason): void {
    const counts = this.findingCounts.get(fr.id) ?? { total: 0, errors: 0 };
    this.findingCounts.delete(fr.id);
    this.flows++;
    this.push("flows", flowRow(this.identity, fr, counts, why));
  }

  /** Capture over: the last rows and the session's final `captures` row; the spool kept if the server is away. */
  async finish(packets: number): Promise<void> {
    clearInterval(this.timer);
    await this.flushing;
    this.pending.push({ t: "captures", r: this.captureRow(packets) });
    this.retryAt = 0; // one more try now, whatever the backoff says
    await this.flush();
    await this.conn.close();
    if (this.spool.dropped > 0)
      this.o.say(`warning: ${this.spool.dropped} row(s) were lost: the spool ${this.o.spoolPath} was full`);
    if (this.spool.rows > 0)
      this.o.say(
        `${this.where()} is still away: ${this.spool.rows} row(s) stay in ${this.o.spoolPath}; the next sockscope live --sink with this spool sends them`,
      );
  }

  private push(t: string, r: SpooledRow["r"]): void {
    this.pending.push({ t, r });
    if (this.pending.length >= FLUSH_ROWS) void this.flush();
  }

  private captureRow(packets: number | null) {
    return captureRow(this.identity, "live", {
      start: this.start,
      end: packets === null ? null : Date.now() / 1000,
      packets: packets ?? 0,
      flows: this.flows,
      findings: this.findings,
      version: this.o.version,
    });
  }

  private where(): string {
    return describeTarget(this.o.target);
  }

  private flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async send(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    if (this.downSince !== null && Date.now() < this.retryAt) {
      this.toSpool(batch);
      return;
    }
    try {
      if (!this.schemaReady) {
        await this.conn.ensureSchema();
        this.schemaReady = true;
      }
      const replayed = this.spool.rows;
      if (replayed > 0) {
        await this.insertAll(this.spool.read());
        this.spool.clear();
      }
      await this.insertAll(batch);
      if (this.downSince !== null || replayed > 0) {
        const away = this.downSince === null ? "" : ` after ${Math.round(Date.now() / 1000 - this.downSince)} s away`;
        this.o.say(`${this.where()} is back${away}: caught up ${replayed} spooled row(s)`);
      }
      this.downSince = null;
      this.retryMs = RETRY_FIRST_MS;
    } catch (e) {
      if (!(e instanceof SinkError)) throw e;
      this.toSpool(batch);
      if (this.downSince === null) {
        this.downSince = Date.now() / 1000;
        this.o.say(
          `warning: ${e.message}; spooling rows to ${this.o.spoolPath} (up to ${this.spool.maxBytes >> 20} MB) and retrying`,
        );
      } else {
        this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
      }
      this.retryAt = Date.now() + this.retryMs;
    }
  }

  private toSpool(rows: SpooledRow[]): void {
    if (this.spool.append(rows) > 0 && !this.droppedSaid) {
      this.droppedSaid = true;
      this.o.say(
        `warning: the spool ${this.o.spoolPath} is full (${this.spool.maxBytes >> 20} MB): new rows are dropped until ${this.where()} is back`,
      );
    }
  }

  /** Rows grouped by table, in batches, in order within each table. */
  private async insertAll(rows: readonly SpooledRow[]): Promise<void> {
    const byTable = new Map<string, SpooledRow["r"][]>();
    for (const { t, r } of rows) {
      const list = byTable.get(t);
      if (list === undefined) byTable.set(t, [r]);
      else list.push(r);
    }
    // The captures row last, as for files (in the spool it may be all there is of the session).
    const order = [...byTable.keys()].sort((a, b) => Number(a === "captures") - Number(b === "captures"));
    for (const t of order) {
      const list = byTable.get(t)!;
      for (let i = 0; i < list.length; i += REPLAY_BATCH) await this.conn.insert(t, list.slice(i, i + REPLAY_BATCH));
    }
  }
}

/** `live --sink`: the sink for this capture, rows spooled to `spool` or the default spool. */
export function startLiveSink(
  o: { target: ClickHouseTarget; spool: string | undefined },
  iface: string,
  say: (line: string) => void,
): LiveSink {
  const { version } = createRequire(import.meta.url)("../../package.json") as { version: string };
  return new LiveSink({
    target: o.target,
    spoolPath: o.spool ?? defaultSpoolPath(o.target),
    iface,
    host: hostname(),
    version,
    say,
  });
}
