/**
 * One connection to the ClickHouse server, through the official client over HTTP(S): the
 * schema made sure of (schema/clickhouse.sql, statement by statement), batched JSONEachRow
 * inserts, and every failure as one SinkError line that names the server and never the
 * password. The client's own logging is off: what goes wrong is said once, by sockscope.
 */
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from "@clickhouse/client";
import { describeTarget, redact, SinkError, type ClickHouseTarget } from "./clickhouse-target.js";
import type { Row } from "./clickhouse-rows.js";

/** The schema file the tables come from (the package ships schema/). */
const SCHEMA_FILE = fileURLToPath(new URL("../../schema/clickhouse.sql", import.meta.url));

/** schema/clickhouse.sql's statements, comments left out. */
export function schemaStatements(): string[] {
  return readFileSync(SCHEMA_FILE, "utf8")
    .replace(/^\s*--.*$/gm, "")
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export class ClickHouseConnection {
  private readonly client: ClickHouseClient;
  private readonly admin: ClickHouseClient;

  constructor(
    readonly target: ClickHouseTarget,
    requestTimeoutMs = 30_000,
  ) {
    const common = {
      url: target.url,
      username: target.username,
      password: target.password,
      request_timeout: requestTimeoutMs,
      application: "sockscope",
      log: { level: ClickHouseLogLevel.OFF },
    };
    // CREATE DATABASE runs outside the database, which may not exist yet.
    this.admin = createClient(common);
    this.client = createClient({ ...common, database: target.database });
  }

  /**
   * The database and tables, created if missing (every statement is IF NOT EXISTS). One
   * question first: when they all exist (every run but the first), nothing more is sent.
   */
  async ensureSchema(): Promise<void> {
    const names = schemaStatements().map((s) => /IF NOT EXISTS\s+(\w+)/.exec(s)?.[1]);
    const present = await this.guard("looking for the tables", async () => {
      const rs = await this.admin.query({
        query: `SELECT count() AS n FROM system.tables WHERE database = '${this.target.database}' AND name IN (${names.map((n) => `'${n}'`).join(", ")})`,
        format: "JSONEachRow",
      });
      return Number(((await rs.json()) as { n: string }[])[0]?.n ?? 0);
    });
    if (present === names.length) return;
    await this.guard("creating the database", () =>
      this.admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${this.target.database}` }),
    );
    for (const query of schemaStatements())
      await this.guard("creating the tables", () => this.client.command({ query }));
  }

  async insert(table: string, rows: readonly Row[]): Promise<void> {
    if (rows.length === 0) return;
    await this.guard(`inserting into ${table}`, () =>
      this.client.insert({ table, values: rows as Row[], format: "JSONEachRow" }),
    );
  }

  /**
   * One INSERT whose rows are made as they are sent (JSON lines, in pieces of about 1 MB):
   * a big capture's rows are never all in memory. Sent with `exec` and a byte stream rather
   * than `insert` with a stream of objects, whose error path prints with console.error (a
   * second message beside sockscope's one line when the server goes away mid-way).
   */
  async insertStream(table: string, rows: Iterable<Row>): Promise<void> {
    const body = Readable.from(jsonLines(rows), { objectMode: false });
    await this.guard(`inserting into ${table}`, async () => {
      const r = await this.client.exec({ query: `INSERT INTO ${table} FORMAT JSONEachRow`, values: body });
      r.stream.resume(); // the (empty) answer, read to its end so the connection is free
      await new Promise<void>((resolve, reject) => r.stream.once("end", resolve).once("error", reject));
    });
  }

  /** The first column of the first row of a query, as a string ("" for none). */
  async scalar(query: string): Promise<string> {
    return this.guard("querying", async () => {
      // JSONEachRow: 18.16 has no JSONCompactEachRow.
      const rs = await this.client.query({ query, format: "JSONEachRow" });
      const rows = (await rs.json()) as Record<string, unknown>[];
      return rows.length === 0 ? "" : String(Object.values(rows[0]!)[0]);
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.client.close(), this.admin.close()]);
  }

  private async guard<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw new SinkError(`${describeTarget(this.target)}: ${what}: ${redact(oneLine(e), this.target)}`);
    }
  }
}

/** An error's message on one line (server exceptions carry a stack trace after a newline). */
function oneLine(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { errors?: Error[] };
  // Node's "connect to every address" failure is an AggregateError with an empty message.
  const msg = err?.message || err?.errors?.[0]?.message || err?.code || String(e);
  return msg
    .split("\n")[0]!
    .replace(/\s*Stack trace:.*$/, "")
    .trim();
}

/** Rows as JSONEachRow text, about 1 MB a piece. */
function* jsonLines(rows: Iterable<Row>): Generator<Buffer> {
  let parts: string[] = [],
    size = 0;
  for (const r of rows) {
    const line = JSON.stringify(r);
    parts.push(line);
    size += line.length + 1;
    if (size >= 1 << 20) {
      yield Buffer.from(parts.join("\n") + "\n");
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield Buffer.from(parts.join("\n") + "\n");
}
