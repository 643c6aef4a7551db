/**
 * The restore guard. A data dir that got its identity from a backup (`icn id
 * restore`, the key log only) or a finished recovery does not know the
 * identity's own chains in the networks it writes in: a write there would
 * take a sequence number the network may already hold, a fork, for which
 * peers quarantine the author. So restore and recovery leave a marker, and a
 * local write in any network is refused while it stands. Learning the chain
 * head lifts it: importing a peer's full bundle of the network, or a node's
 * completed sync round with a peer; or the user says they know better.
 *
 * The marker is this data dir's own state (one store key, like the network
 * id): never in an envelope, never gossiped, not part of any state hash.
 */
import { RejectedError } from "../errors.ts";
import type { Store } from "../store/store.ts";

/** Where the marker sits in the store (local, non-consensus state). */
export const catchUpKey = ["local", "catch-up"] as const;

export interface CatchUpMarker {
  /** The identity that must catch up (the data dir's own). */
  did: string;
  /** What installed its keys without its network chains. */
  reason: "restore" | "recovery";
  /** When (ms since the epoch). */
  since: number;
}

/** The marker for `did`, if one stands (a marker left for another identity does not count). */
export async function readCatchUp(store: Store, did: string): Promise<CatchUpMarker | null> {
  const marker = (await store.get<CatchUpMarker>(catchUpKey))?.value;
  return marker && marker.did === did ? marker : null;
}

/** Records that `marker.did` must catch up before writing in a network. */
export async function markCatchUp(store: Store, marker: CatchUpMarker): Promise<void> {
  await store.commit([], [{ type: "set", key: catchUpKey, value: marker }]);
}

/** Lifts the marker; returns whether one stood. */
export async function clearCatchUp(store: Store): Promise<boolean> {
  const entry = await store.get<CatchUpMarker>(catchUpKey);
  if (!entry) return false;
  // Only the marker that was read: a newer restore's marker must not be lifted by an older sync.
  const done = await store.commit([{ key: catchUpKey, versionstamp: entry.versionstamp }], [
    { type: "delete", key: catchUpKey },
  ]);
  return done !== null;
}

/** What restore and recovery finalize tell the user about the guard they leave. */
export const catchUpAdvice: readonly string[] = [
  "  network chains are not in the key log: before writing in a network, join it and catch up",
  "  (`icn node import BUNDLE` from a peer, or `icn node run` until it has synced)",
];

/** What the user typed to lift the marker by hand (documented in docs/identity.md). */
export const catchUpOverride = "icn id caught-up --i-know";

/**
 * The refusal of a write while the marker stands, naming the ways out. `via`:
 * the CLI (no node runs), or a running node (whose own sync lifts it).
 */
export function catchUpRefusal(
  marker: CatchUpMarker,
  net: string,
  via: "cli" | "node",
): RejectedError {
  const what = marker.reason === "restore" ? "restored from a backup" : "recovered";
  const when = new Date(marker.since).toISOString();
  const sync = via === "node"
    ? "let this node sync with a peer that serves the network (it lifts this by itself; `icn node connect ADDR` if it has none)"
    : "`icn node run` until it has synced with a peer that serves the network";
  return new RejectedError(
    "catch_up_needed",
    `Cannot write in network ${net} yet: ${marker.did} was ${what} at ${when}, and this data dir does not know its own chain there, so a write now could take a seq the network already holds (a fork: peers would quarantine you). Catch up first: \`icn node import BUNDLE\` with a full bundle a peer made (\`icn node export\`); or ${sync}; or, only if you are sure no peer holds envelopes of yours this data dir lacks, \`${catchUpOverride}\``,
  );
}
