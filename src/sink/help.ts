/** The --sink options' lines in `analyze --help` and `live --help`. */
import { PASSWORD_ENV } from "./clickhouse-target.js";

/** live: where rows wait while the server is away. */
export const LIVE_SINK_HELP = `      --sink URL, --sink-password-file FILE   as for analyze: flows as they end and findings
                           as they fire, sent about once a second
      --sink-spool FILE    rows wait here while the server is away, up to 256 MB, sent when it
                           is back (default ~/.cache/sockscope/clickhouse/HOST_PORT-DB.spool);
                           left there at exit if it is still away, for the next run to send`;

export const SINK_HELP = `      --sink URL           also store flows and findings in ClickHouse: clickhouse://USER@HOST:8123/DB
                           (HTTP), clickhouses://USER@HOST:8443/DB (HTTPS); the tables are made if
                           missing (schema/clickhouse.sql); a capture already stored is not stored again
      --sink-password-file FILE   the ClickHouse password (default: $${PASSWORD_ENV})`;
