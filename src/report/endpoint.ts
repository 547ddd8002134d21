/** The parts of an endpoint as reports write it: `ip:port`, IPv6 in brackets (`[::1]:80`). */

export function portOf(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
}

/** The address without its port, and without brackets for IPv6. */
export function hostOf(endpoint: string): string {
  const a = endpoint.slice(0, endpoint.lastIndexOf(":"));
  return a.startsWith("[") ? a.slice(1, -1) : a;
}
