/**
 * Exit codes of every command, as documented in the README:
 * 0 analysed / check passed, 1 a check failed, 2 usage error or unreadable input.
 * (70, an internal error, is set by main.ts alone.)
 */
export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_USAGE = 2;
