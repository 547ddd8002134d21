/** Frame numbers as reports print them. */

/** "3-7, 9, 12" from a sorted list of frame numbers. */
export function compressFrames(frames: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < frames.length; ) {
    let j = i;
    while (j + 1 < frames.length && frames[j + 1] === frames[j]! + 1) j++;
    parts.push(j > i + 1 ? `${frames[i]}-${frames[j]}` : j === i + 1 ? `${frames[i]}, ${frames[j]}` : `${frames[i]}`);
    i = j + 1;
  }
  return parts.join(", ");
}
