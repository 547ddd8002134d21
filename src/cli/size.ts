/** A byte count as people read it on stderr: "13.2 KB", "512.0 MB", "1.50 GB". */
export function formatSize(bytes: number): string {
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1 << 30) return `${(bytes / (1 << 20)).toFixed(1)} MB`;
  return `${(bytes / (1 << 30)).toFixed(2)} GB`;
}
