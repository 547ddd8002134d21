/**
 * `--sink` URLs: which scheme speaks TLS, the default ports and database, and where the
 * password comes from (the environment or a file, never the URL), with no server needed.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { describeTarget, parseSinkUrl, redact } from "../src/sink/clickhouse-target.js";
import { defaultSpoolPath } from "../src/sink/live-sink.js";
import { CLI, FIXTURES } from "./helpers/paths.js";

const env = { SOCKSCOPE_CLICKHOUSE_PASSWORD: "s3cret" };

describe("--sink URL", () => {
  it("clickhouse:// and http:// are HTTP (8123), clickhouses:// and https:// are HTTPS (8443)", () => {
    expect(parseSinkUrl("clickhouse://ops@db.example:8123/net", undefined, env)).toEqual({
      url: "http://db.example:8123",
      tls: false,
      username: "ops",
      password: "s3cret",
      database: "net",
    });
    expect(parseSinkUrl("clickhouse://db.example", undefined, {})).toMatchObject({
      url: "http://db.example:8123",
      username: "default",
      password: "",
      database: "sockscope",
    });
    expect(parseSinkUrl("clickhouses://ops@db.example/net", undefined, env)).toMatchObject({
      url: "https://db.example:8443",
      tls: true,
    });
    expect(parseSinkUrl("https://ops@db.example:9443/net", undefined, env)).toMatchObject({
      url: "https://db.example:9443",
      tls: true,
    });
    expect(parseSinkUrl("http://ops@[::1]/net", undefined, env).url).toBe("http://[::1]:8123");
  });

  it("refuses a password in the URL without repeating it, other schemes, and database names SQL would need quoted", () => {
    expect(() => parseSinkUrl("clickhouse://ops:hunter2@db/net", undefined, env)).toThrow(
      /a password in the URL is refused/,
    );
    try {
      parseSinkUrl("clickhouse://ops:hunter2@db/net", undefined, env);
    } catch (e) {
      expect((e as Error).message).not.toContain("hunter2");
    }
    expect(() => parseSinkUrl("postgres://db/net", undefined, env)).toThrow(/unknown scheme "postgres:"/);
    expect(() => parseSinkUrl("clickhouse://db/net;drop", undefined, env)).toThrow(/must be letters, digits and _/);
    expect(() => parseSinkUrl("not a url", undefined, env)).toThrow(/--sink takes a URL/);
  });

  it("reads the password from --sink-password-file (its final newline is no part of it) before the environment", () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-pw-"));
    try {
      writeFileSync(join(dir, "pw"), "from-file\n");
      expect(parseSinkUrl("clickhouse://ops@db/net", join(dir, "pw"), env).password).toBe("from-file");
      expect(() => parseSinkUrl("clickhouse://ops@db/net", join(dir, "missing"), env)).toThrow(
        /--sink-password-file: cannot read .*missing: ENOENT/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the target without the password, and redacts it from messages", () => {
    const t = parseSinkUrl("clickhouse://ops@db:8123/net", undefined, env);
    expect(describeTarget(t)).toBe("ClickHouse http://db:8123/net as ops");
    expect(redact("auth s3cret failed for s3cret", t)).toBe("auth *** failed for ***");
  });

  it("spools by default under the cache directory, one file per server and database", () => {
    const t = parseSinkUrl("clickhouses://ops@db.example/net", undefined, env);
    expect(defaultSpoolPath(t, { XDG_CACHE_HOME: "/var/cache/x" })).toBe(
      "/var/cache/x/sockscope/clickhouse/db.example_8443-net.spool",
    );
  });
});

describe("analyze --sink refuses what it cannot store as a whole capture (before any connection)", () => {
  const capture = join(FIXTURES, "close-wait", "pooled-client.pcap");
  const analyze = (args: string[], input?: Buffer) =>
    spawnSync(process.execPath, [CLI, "analyze", ...args], { encoding: "utf8", input });
  // Port 9 (discard): nothing answers, yet the refusals come first.
  const sink = ["--sink", "clickhouse://ops@127.0.0.1:9/net"];

  it("standard input, which cannot be hashed into a capture id", () => {
    const r = analyze(["-", ...sink], Buffer.alloc(0));
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      "sockscope: --sink needs a capture file: standard input cannot be hashed into a capture id\n",
    );
  });

  it("--flow, --host and --port, which would store part of a capture under its id", () => {
    for (const filter of [
      ["--flow", "1"],
      ["--host", "127.0.0.1"],
      ["--port", "80"],
    ]) {
      const r = analyze([capture, ...filter, ...sink]);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(
        "sockscope: --sink stores whole captures: --flow, --host and --port cannot be used with it\n",
      );
    }
  });

  it("a password in the URL, in one line that does not repeat it", () => {
    const r = analyze([capture, "--sink", "clickhouse://ops:hunter2@127.0.0.1:9/net"]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toContain("hunter2");
  });
});
