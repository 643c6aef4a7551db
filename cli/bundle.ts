/** `icn node export` / `icn node import`: offline exchange of envelopes as CAR bundles. */
import { namingFile, pathExists, readInputFile } from "./files.ts";
import {
  bundleBytesMax,
  type BundleManifest,
  decodeBundle,
  encodeBundle,
  splitForImport,
} from "../core/chain/bundle.ts";
import { ingest } from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { verifyPoolThreshold } from "../core/chain/verifier.ts";
import { readLog } from "../core/chain/read.ts";
import { VerifyPool } from "../net/verify_pool.ts";
import { InvalidInputError } from "../core/errors.ts";
import { clearCatchUp, readCatchUp } from "../core/identity/catch_up.ts";
import type { CliContext } from "./context.ts";
import { type JoinedNetwork, joinedNetworks, openNetwork } from "./networks.ts";
import { writeFileAtomic } from "./keystore.ts";
import type { CommandResult } from "./output.ts";

/** `node export`'s options (declared in cli/node_commands.ts). */
export interface ExportBundleOptions {
  out: string;
  /** Checked here: a log position, printed by the previous export as `next`. */
  since: string;
}

export async function exportBundle(
  ctx: CliContext,
  _args: string[],
  options: ExportBundleOptions,
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
  const { out } = options;
  await writeFileAtomic(out, bytes, 0o644);
  return {
    data: { file: out, count: envelopes.length, since, next, bytes: bytes.length },
    text: `Exported ${envelopes.length} envelope(s) to ${out} (next export: --since ${next})`,
  };
}

/** `node import`'s options (declared in cli/node_commands.ts). */
export interface ImportBundleOptions {
  /** `--net`: already applied by the runner (`CliContext.useNetwork`); read here to know if given. */
  net?: string;
}

export async function importBundle(
  ctx: CliContext,
  args: string[],
  options: ImportBundleOptions,
): Promise<CommandResult> {
  const [path] = args;
  const bytes = await readInputFile(path, "bundle", { bytesMax: bundleBytesMax });
  const { manifest, envelopes } = await namingFile(path, "bundle", () => decodeBundle(bytes));
  // Importing key logs into a new data dir is the first step of recovery: it may create one.
  await ctx.ensureDataDir();
  // Without --net, a bundle goes to the joined network it was exported from. A bundle of key
  // logs only (from a data dir that joined nothing) serves every network: with several joined,
  // it goes to the home store, then to each other network's store. (A bundle of a network not
  // joined is refused by the home store's import, as with one network.)
  let alsoInto: JoinedNetwork[] = [];
  if (options.net === undefined) {
    const networks = await joinedNetworks(ctx);
    if (manifest.net !== null && networks.some((n) => n.id === manifest.net)) {
      ctx.useNetwork(manifest.net);
    } else if (networks.length > 1) {
      ctx.useNetwork(networks[0].id);
      alsoInto = networks.slice(1);
    }
  }
  const deps = await ctx.ingestDeps();
  const joined = (await deps.store.get<string>(chainKeys.network))?.value ?? null;
  // A data dir that has not joined takes the key logs and sets the network's envelopes aside;
  // what it takes is still all or nothing, so a tampered bundle changes nothing.
  const { now, notJoined } = await splitForImport(envelopes, joined);
  // A large bundle verifies its signatures on every core (net/verify_pool.ts).
  const verifier = now.length >= verifyPoolThreshold ? new VerifyPool() : undefined;
  const outcomes = await ingest(verifier ? { ...deps, verifier } : deps, now, {
    source: "import",
    atomicity: "all",
  }).finally(() => verifier?.close());
  const accepted = outcomes.filter((o) => o.status === "accepted").length;
  const duplicates = outcomes.filter((o) => o.status === "duplicate").length;
  let alsoAccepted = 0;
  for (const network of alsoInto) {
    const open = await openNetwork(ctx, network);
    const { now: keyLogs } = await splitForImport(envelopes, network.id);
    const more = await ingest(
      { ...deps, store: open.store, kinds: await open.kinds() },
      keyLogs,
      { source: "import", atomicity: "all" },
    );
    alsoAccepted += more.filter((o) => o.status === "accepted").length;
  }
  const caughtUp = await catchUp(ctx, manifest, joined);
  const setAside = [...notJoined].map(([net, count]) => ({ net, count }));
  const text = [
    `Imported ${accepted} new envelope(s) from ${path} (${duplicates} already known)`,
  ];
  for (const { net, count } of setAside) {
    text.push(
      `  not taken: ${count} envelope(s) of network ${net}, which this data dir has not joined; run \`icn governance join GENESIS\` with its genesis, then import this bundle again`,
    );
  }
  if (alsoInto.length > 0) {
    text.push(
      `  key logs also imported into the ${alsoInto.length} other joined network(s) (${alsoAccepted} new)`,
    );
  }
  if (caughtUp) {
    text.push("  caught up: writes in this network are allowed again (restore guard lifted)");
  }
  return {
    data: {
      file: path,
      net: manifest.net,
      total: envelopes.length,
      accepted,
      duplicates,
      notJoined: setAside,
      alsoInto: alsoInto.map((n) => n.id),
      caughtUp,
    },
    text,
  };
}

/**
 * Lifts the restore guard when this import taught the data dir its own chain in its network:
 * a bundle of that network exported from the start of the peer's log (no `--since`).
 */
async function catchUp(
  ctx: CliContext,
  manifest: BundleManifest,
  joined: string | null,
): Promise<boolean> {
  if (joined === null || manifest.net !== joined || manifest.since !== 0) return false;
  if (!(await pathExists(ctx.publicIdentityPath))) return false;
  const { did } = await ctx.readPublicIdentity();
  // The restore guard is the data dir's: restore and recovery write it in the home store.
  const store = await ctx.homeStore();
  if (!(await readCatchUp(store, did))) return false;
  return await clearCatchUp(store);
}
