/** The --sink options' lines in `analyze --help` and `live --help`. */
import { PASSWORD_ENV } from "./clickhouse-target.js";

export const SINK_HELP = `      --sink URL           also store flows and findings in ClickHouse: clickhouse://USER@HOST:8123/DB
                           (HTTP), clickhouses://USER@HOST:8443/DB (HTTPS); the tables are made if
                           missing (schema/clickhouse.sql); a capture already stored is not stored again
      --sink-password-file FILE   the ClickHouse password (default: $${PASSWORD_ENV})`;
