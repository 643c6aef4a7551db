/** `icn node export` / `icn node import`: offline exchange of envelopes as CAR bundles. */
import { readInputFile } from "./files.ts";
import { bundleBytesMax, decodeBundle, encodeBundle } from "../core/chain/bundle.ts";
import { ingest } from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { readLog } from "../core/chain/read.ts";
import { InvalidInputError } from "../core/errors.ts";
import type { CliContext } from "./context.ts";
import { writeFileAtomic } from "./keystore.ts";
import type { CommandResult } from "./output.ts";

export async function exportBundle(
  ctx: CliContext,
  _args: string[],
  options: Record<string, unknown>,
): Promise<CommandResult> {
  const since = Number(options.since ?? 0);
  if (!Number.isSafeInteger(since) || since < 0) {
    throw new InvalidInputError(
      `Cannot export from position "${String(options.since)}": use a whole number ≥ 0`,
    );
  }
  const store = await ctx.store();
  const net = (await store.get<string>(chainKeys.network))?.value ?? null;
  const envelopes: Uint8Array[] = [];
  let next = since;
  for await (const item of readLog(store, since)) {
    envelopes.push(item.bytes);
    next = item.position + 1;
  }
  const bytes = await encodeBundle(
    { v: 1, net, count: envelopes.length, since, next, created: ctx.clock.now() },
    envelopes,
  );
  const out = String(options.out);
  await writeFileAtomic(out, bytes, 0o644);
  return {
    data: { file: out, count: envelopes.length, since, next, bytes: bytes.length },
    text: `Exported ${envelopes.length} envelope(s) to ${out} (next export: --since ${next})`,
  };
}

export async function importBundle(ctx: CliContext, args: string[]): Promise<CommandResult> {
  const [path] = args;
  const bytes = await readInputFile(path, "bundle", { bytesMax: bundleBytesMax });
  const { manifest, envelopes } = await decodeBundle(bytes);
  // Importing key logs into a new data dir is the first step of recovery: it may create one.
  await ctx.ensureDataDir();
  const deps = await ctx.ingestDeps();
  const outcomes = await ingest(deps, envelopes, { source: "import", atomicity: "all" });
  const accepted = outcomes.filter((o) => o.status === "accepted").length;
  const duplicates = outcomes.filter((o) => o.status === "duplicate").length;
  return {
    data: { file: path, net: manifest.net, total: envelopes.length, accepted, duplicates },
    text: `Imported ${accepted} new envelope(s) from ${path} (${duplicates} already known)`,
  };
}
