/**
 * A real ClickHouse server for the sink tests: Debian's clickhouse-server (18.16), started as
 * the clickhouse user (setpriv) on a free port with its own temporary data directory and
 * config, with a password-protected user for sockscope; stopped (or killed, to test a
 * server that dies) and started again on the same data. Optionally inside another process's
 * network namespace (a live capture's), reached then through `nsenter`.
 *
 * Without clickhouse-server (or root, to run it as its own user) the tests skip saying why;
 * under CI=1 they fail instead (.ci/run installs the package).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeIfReady } from "./preconditions.js";

const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

/** Why the server cannot be started here, or null. */
export const clickHouseBlocker: string | null = !has("clickhouse-server")
  ? "clickhouse-server is not installed (apt-get install clickhouse-server)"
  : process.getuid?.() !== 0
    ? "starting clickhouse-server as the clickhouse user needs root"
    : !has("setpriv")
      ? "setpriv (util-linux) is missing"
      : spawnSync("id", ["clickhouse"]).status !== 0
        ? "there is no clickhouse user (the clickhouse-server package makes it)"
        : null;

/** describe() that skips with the reason printed, or fails in CI, when the server cannot run. */
export function clickHouseDescribe(name: string, body: () => void, extraBlocker: string | null = null): void {
  describeIfReady(name, clickHouseBlocker ?? extraBlocker, body);
}

export const SINK_USER = "sockscope_writer";
/** Distinctive, so a test can search every output for it. */
export const SINK_PASSWORD = "pw-7Qz!never-print-me";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ClickHouseServer {
  httpPort: number;
  /** With `tls`: the HTTPS port, and the server's self-signed certificate (a CA file for NODE_EXTRA_CA_CERTS). */
  httpsPort: number | null;
  certFile: string | null;
  /** clickhouse://user@127.0.0.1:port/DB for --sink. */
  sinkUrl(database: string): string;
  /** Runs SQL as the default user; the response body, trimmed. Throws on an HTTP error. */
  query(sql: string, database?: string): Promise<string>;
  /** Starts the server (again, on the same data) and waits until it answers. */
  start(): Promise<void>;
  /** SIGTERM (a clean stop) or SIGKILL (a crash), and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
  log(): string;
}

/**
 * `nsPid`: start and reach the server in this process's network namespace. `tls`: also
 * serve HTTPS, with a certificate for 127.0.0.1 made by openssl.
 */
export async function clickHouseServer(nsPid?: number, tls = false): Promise<ClickHouseServer> {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-clickhouse-"));
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  mkdirSync(data);
  spawnSync("chown", ["-R", "clickhouse:clickhouse", data]);
  // In a fresh namespace every port is free; on the host, ask the kernel for two.
  const httpPort = nsPid === undefined ? await freePort() : 8123;
  const tcpPort = nsPid === undefined ? await freePort() : 9000;
  const httpsPort = tls ? await freePort() : null;
  const certFile = tls ? join(dir, "cert.pem") : null;
  if (tls) {
    const key = join(data, "key.pem");
    const r = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certFile!, "-days", "2"].concat([
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ]),
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
    spawnSync("chown", ["clickhouse:clickhouse", key]);
  }
  const tlsConfig = !tls
    ? ""
    : `<https_port>${httpsPort}</https_port>
  <openSSL><server><certificateFile>${certFile}</certificateFile><privateKeyFile>${data}/key.pem</privateKeyFile>
    <verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile><cacheSessions>true</cacheSessions>
    <disableProtocols>sslv2,sslv3</disableProtocols><preferServerCiphers>true</preferServerCiphers></server></openSSL>`;
  writeFileSync(
    join(dir, "config.xml"),
    `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${data}/server.log</log><errorlog>${data}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  ${tlsConfig}
  <listen_host>127.0.0.1</listen_host>
  <path>${data}/</path>
  <tmp_path>${data}/tmp/</tmp_path>
  <user_files_path>${data}/user_files/</user_files_path>
  <format_schema_path>${data}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
</yandex>
`,
  );
  const user = (name: string, password: string) =>
    `<${name}><password>${password}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></${name}>`;
  writeFileSync(
    join(dir, "users.xml"),
    `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage><max_read_buffer_size>65536</max_read_buffer_size></default></profiles>
  <users>${user("default", "")}${user(SINK_USER, SINK_PASSWORD)}</users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`,
  );
  const inNs = (cmd: string[]) => (nsPid === undefined ? cmd : ["nsenter", "-t", String(nsPid), "-n", ...cmd]);
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  let output = "";

  async function query(sql: string, database = "default"): Promise<string> {
    const url = `http://127.0.0.1:${httpPort}/?database=${database}`;
    if (nsPid === undefined) {
      // A fresh connection each time (agent: false): a kept-alive one dies with a killed server.
      return new Promise((resolve, reject) => {
        const req = request(url, { method: "POST", agent: false }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d) => (text += d));
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(text.trim())
              : reject(new Error(`ClickHouse ${res.statusCode}: ${text.trim()}`)),
          );
        });
        req.on("error", reject);
        req.end(sql);
      });
    }
    // Inside the namespace: the same request, by a node started there.
    const script = `fetch(process.argv[1],{method:"POST",body:process.argv[2]}).then(async r=>{process.stdout.write(await r.text());process.exitCode=r.ok?0:1},e=>{process.stdout.write(String(e));process.exitCode=1})`;
    // Through the server's own process while it runs: the namespace outlives the process that made it.
    const via = child?.pid ?? nsPid;
    const r = spawnSync("nsenter", ["-t", String(via), "-n", process.execPath, "-e", script, url, sql], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`ClickHouse: ${r.stdout.trim()}`);
    return r.stdout.trim();
  }

  async function start(): Promise<void> {
    const cmd = inNs([
      "setpriv",
      "--reuid=clickhouse",
      "--regid=clickhouse",
      "--init-groups",
      "clickhouse-server",
      `--config-file=${join(dir, "config.xml")}`,
    ]);
    const c = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
    child = c;
    c.stdout!.on("data", (d) => (output += d));
    c.stderr!.on("data", (d) => (output += d));
    exited = new Promise((res) => c.on("close", () => res()));
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await query("SELECT 1")) === "1") return;
      } catch {
        /* not up yet */
      }
      if (c.exitCode !== null) throw new Error(`clickhouse-server exited: ${output}${readLog()}`);
      if (Date.now() > until) throw new Error(`clickhouse-server did not answer in 60 s: ${output}${readLog()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  function readLog(): string {
    try {
      return readFileSync(join(data, "server.err.log"), "utf8").slice(-2000);
    } catch {
      return "";
    }
  }

  async function stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (child === null || child.exitCode !== null) return;
    child.kill(signal);
    await exited;
    child = null;
  }

  await start();
  return {
    httpPort,
    httpsPort,
    certFile,
    sinkUrl: (database) => `clickhouse://${SINK_USER}@127.0.0.1:${httpPort}/${database}`,
    query,
    start,
    stop,
    async dispose() {
      await stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output + readLog(),
  };
}
