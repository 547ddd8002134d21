/**
 * Where `--sink clickhouse://…` writes, and as whom: the URL's parts, and the password from
 * the environment or a file, never from the URL (a URL ends up in shell history, `ps` and
 * logs). `clickhouse://` speaks HTTP (default port 8123), `clickhouses://` (or `https://`)
 * HTTPS (default port 8443); `http://` is accepted as `clickhouse://`.
 *
 * The password never appears in what `describe` says, and `redact` removes it from any
 * message that passes through (a server or client error may quote what it was sent).
 */
import { readFileSync } from "node:fs";

/** The environment variable the password is read from (unless --sink-password-file names a file). */
export const PASSWORD_ENV = "SOCKSCOPE_CLICKHOUSE_PASSWORD";

export interface ClickHouseTarget {
  /** http(s)://host:port, without credentials: what the client connects to. */
  url: string;
  tls: boolean;
  username: string;
  password: string;
  database: string;
}

/** A --sink value or password file that cannot be used; the message never holds a password. */
export class SinkConfigError extends Error {}

/** The server could not be reached or refused what was sent: one line, no password. */
export class SinkError extends Error {}

const SCHEMES: Record<string, { tls: boolean; port: number }> = {
  "clickhouse:": { tls: false, port: 8123 },
  "http:": { tls: false, port: 8123 },
  "clickhouses:": { tls: true, port: 8443 },
  "https:": { tls: true, port: 8443 },
};

/** A database name the sink can put in SQL unquoted (ClickHouse identifiers). */
const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseSinkUrl(
  value: string,
  passwordFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ClickHouseTarget {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new SinkConfigError("--sink takes a URL such as clickhouse://user@host:8123/database");
  }
  const scheme = SCHEMES[u.protocol];
  if (scheme === undefined)
    throw new SinkConfigError(
      `--sink: unknown scheme "${u.protocol}" (clickhouse:// for HTTP, clickhouses:// or https:// for HTTPS)`,
    );
  if (u.password !== "")
    throw new SinkConfigError(
      `--sink: a password in the URL is refused (it would show in shell history and process lists); put it in ${PASSWORD_ENV} or a file named by --sink-password-file`,
    );
  if (u.hostname === "") throw new SinkConfigError("--sink: the URL names no host");
  const path = decodeURIComponent(u.pathname.replace(/^\//, "").replace(/\/$/, ""));
  const database = path === "" ? "sockscope" : path;
  if (!DATABASE_NAME.test(database))
    throw new SinkConfigError(
      `--sink: database "${database}" must be letters, digits and _ (not starting with a digit)`,
    );
  return {
    url: `${scheme.tls ? "https" : "http"}://${u.port !== "" ? u.host : `${u.host}:${scheme.port}`}`,
    tls: scheme.tls,
    username: u.username === "" ? "default" : decodeURIComponent(u.username),
    password: readPassword(passwordFile, env),
    database,
  };
}

function readPassword(file: string | undefined, env: NodeJS.ProcessEnv): string {
  if (file === undefined) return env[PASSWORD_ENV] ?? "";
  try {
    // One line, as `echo secret > file` writes it: the newline is no part of the password.
    return readFileSync(file, "utf8").replace(/\r?\n$/, "");
  } catch (e) {
    throw new SinkConfigError(
      `--sink-password-file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
    );
  }
}

/** How messages name the target: no password, ever. */
export function describeTarget(t: ClickHouseTarget): string {
  return `ClickHouse ${t.url}/${t.database} as ${t.username}`;
}

/** `message` with every occurrence of the password replaced (errors may quote a request). */
export function redact(message: string, t: ClickHouseTarget): string {
  if (t.password === "") return message;
  return message.split(t.password).join("***");
}
