/**
 * The V8 heap of an icn process. No imports: scripts/compile.ts bakes `v8HeapFlags` into release
 * binaries before anything else is loaded.
 *
 * A 2 MB young generation (semi-space) and a 512 MB old one. Measured while a fresh node syncs
 * 100,000 envelopes (scripts/bench_node.ts), they keep its peak RSS near 190 MB instead of
 * 315–366 MB with V8's default sizing, at the same speed; the live JS heap is ~22 MB after the
 * sync. V8 sizes its heap once, when the process starts: the process cannot set them on itself
 * (`v8.setFlagsFromString` at run time changes neither the limit nor the RSS), so what starts icn
 * passes them: `deno task icn` (`--v8-flags`) and release binaries (`deno compile --v8-flags`,
 * scripts/compile.ts), which scripts/icn-node.service runs. A compiled binary does not read
 * `DENO_V8_FLAGS` (denoland/deno#19808): its flags are final.
 */
export const v8HeapFlags = "--max-semi-space-size=2,--max-old-space-size=512";

/**
 * Whether a V8 heap limit (`v8.getHeapStatistics().heap_size_limit`, bytes) means V8's default
 * heap sizing on a machine with 8 GB of memory or more: from a 2 GB limit on, V8 lets the old
 * generation grow 4× between collections, and a syncing node's RSS is as with no flags at all.
 */
export function defaultHeapSizing(heapSizeLimit: number): boolean {
  return heapSizeLimit >= 2048 * 2 ** 20;
}
