/**
 * Key event log (KEL): the identity's own chain (net `kel`). Replaying it
 * gives the DID's current keys. Events: `id.inception` → (`id.rotation` |
 * `id.pq-binding` | `id.recovery-setup` | `id.recovery-start` |
 * `id.recovery-cancel` | `id.recovery`)*. The rules here are pure functions
 * of (record, envelope); `kinds.ts` wires them into `ingest`, and
 * `replayKel` folds a whole log without a store.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { bytesEqual, concatBytes, toHex, utf8Encode } from "../bytes.ts";
import { kelNet } from "../constants.ts";
import { InvalidSignatureError, RejectedError, UnknownIdentityError } from "../errors.ts";
import type { Envelope, EnvelopeSignature } from "../envelope/envelope.ts";
import { didFromPublicKey } from "./did.ts";
import { sha256, verifyEd25519, verifyMlDsa65, weakEd25519Key } from "./keys.ts";

/** Public keys of an identity at one point in its KEL. Optional members are absent, never undefined. */
export interface KeySet {
  ed25519: Uint8Array;
  x25519: Uint8Array;
  mlDsa65?: Uint8Array;
  mlKem768?: Uint8Array;
}

/** Body of `id.inception`. */
export interface InceptionBody {
  keys: KeySet;
  /** SHA-256 commitment to the next keys (pre-rotation). */
  next: Uint8Array;
}

/** Why a rotation happened (informational; every reason has the same rules). */
export const rotationReasons = ["scheduled", "compromised", "upgrade", "manual"] as const;
export type RotationReason = typeof rotationReasons[number];

/**
 * Body of `id.rotation` and `id.pq-binding`: reveals the keys the previous
 * event committed to (`keys` must hash to the committed digest; for a
 * pq-binding only its Ed25519/X25519 part, the committed keys were classical)
 * and commits to the next ones. `proof` holds signatures by the revealed keys
 * over `proofMessage`, so only the holder of the pre-committed secrets can
 * rotate: a thief with the current signing key alone cannot.
 */
export interface RotationBody {
  keys: KeySet;
  next: Uint8Array;
  reason: RotationReason;
  proof: EnvelopeSignature[];
}

/** Social recovery policy set by `id.recovery-setup`. */
export interface RecoveryPolicy {
  trustees: string[];
  threshold: number;
  delayMs: number;
  /** KEL seq of the setup event. */
  seq: number;
}

/** A recovery that collected its attestations and waits out its delay. */
export interface PendingRecovery {
  /** SHA-256 of the request bytes. */
  request: Uint8Array;
  keys: KeySet;
  next: Uint8Array;
  started: number;
  readyAt: number;
  trustees: string[];
  seq: number;
}

/** A key that signed for this identity during [from, until). */
export interface KeyPeriod {
  ed25519: Uint8Array;
  mlDsa65?: Uint8Array;
  /** KEL seq of the event that installed the key. */
  seq: number;
  from: number;
  /** Timestamp of the event that superseded it; absent for the current key. */
  until?: number;
}

/** Derived state of one identity, stored at `identityKey(did)`. */
export interface IdentityRecord {
  did: string;
  /** Seq and CID of the latest KEL event. */
  seq: number;
  head: string;
  created: number;
  keys: KeySet;
  next: Uint8Array | null;
  /** Recent key periods, oldest first (older ones are archived, see `archived`). */
  history: KeyPeriod[];
  /** Number of oldest periods moved out of `history` to `archivedPeriodKey` to bound the record's size. */
  archived?: number;
  recovery?: RecoveryPolicy;
  pendingRecovery?: PendingRecovery;
}

export const identityKey = (did: string) => ["kel", did] as const;
/** Key periods dropped from `IdentityRecord.history`, by index. */
export const archivedPeriodKey = (did: string, index: number) =>
  ["kel-period", did, index] as const;

/** Grace period for envelopes dated before a rotation but received after it (issue 3). */
export const supersededKeyGraceMs = 3_600_000;
/**
 * Budget for the key periods kept inside the identity record: a Deno KV value
 * is at most 64 KiB, and an identity may rotate thousands of times. About 500
 * Ed25519-only periods or 16 hybrid ones fit; older ones are archived.
 */
export const historyBytesMax = 32 * 1024;
const periodOverheadBytes = 40;
/** Most trustees of one recovery policy; bounds the size of a recovery-start event. */
export const trusteesMax = 10;
/** Longest recovery delay. */
export const recoveryDelayMsMax = 365 * 24 * 3_600_000;

const proofDomain = utf8Encode("icn/kel-proof/v1\n");

/** Digest committed to by pre-rotation: SHA-256 of the canonical encoding of the next public keys. */
export function nextKeysDigest(keys: KeySet): Promise<Uint8Array> {
  return sha256(dagCbor.encode(canonicalKeySet(keys)));
}

/** Drops absent optional members so the key set encodes canonically. */
export function canonicalKeySet(keys: KeySet): KeySet {
  const out: KeySet = { ed25519: keys.ed25519, x25519: keys.x25519 };
  if (keys.mlDsa65) out.mlDsa65 = keys.mlDsa65;
  if (keys.mlKem768) out.mlKem768 = keys.mlKem768;
  return out;
}

function isBytes(value: unknown, length?: number): value is Uint8Array {
  return value instanceof Uint8Array && (length === undefined || value.length === length);
}

/** Checks a key set's shape; throws `RejectedError("malformed")`. */
export function checkKeySet(value: unknown): asserts value is KeySet {
  const keys = value as Record<string, unknown>;
  if (
    typeof keys !== "object" || keys === null || !isBytes(keys.ed25519, 32) ||
    !isBytes(keys.x25519, 32) ||
    (keys.mlDsa65 !== undefined && !isBytes(keys.mlDsa65, 1952)) ||
    (keys.mlKem768 !== undefined && !isBytes(keys.mlKem768, 1184)) ||
    (keys.mlDsa65 === undefined) !== (keys.mlKem768 === undefined) ||
    Object.keys(keys).some((k) => !["ed25519", "x25519", "mlDsa65", "mlKem768"].includes(k))
  ) {
    throw new RejectedError("malformed", "Key set is malformed");
  }
  const weak = weakEd25519Key(keys.ed25519);
  if (weak !== null) {
    throw new RejectedError(
      "weak_key",
      `Cannot accept Ed25519 key ${shortDigest(keys.ed25519)}: ${weak}`,
    );
  }
}

/** Checks an inception envelope against the rules that need no state. Returns its key set. */
export function checkInception(envelope: Envelope): InceptionBody {
  const body = envelope.body as Record<string, unknown>;
  if (envelope.net !== kelNet || envelope.seq !== 0) {
    throw new RejectedError("malformed", "An inception must be the first event of a key event log");
  }
  if (typeof body !== "object" || body === null || !isBytes(body.next, 32)) {
    throw new RejectedError("malformed", "Inception body is malformed");
  }
  checkKeySet(body.keys);
  if (didFromPublicKey(body.keys.ed25519) !== envelope.author) {
    throw new RejectedError("malformed", "Inception key does not match the author's DID");
  }
  return body as unknown as InceptionBody;
}

/** Verifies an envelope's signatures against a key set: Ed25519 always; ML-DSA-65 too once the identity has it. */
export async function verifySignatures(
  envelope: Envelope,
  message: Uint8Array,
  keys: Pick<KeySet, "ed25519" | "mlDsa65">,
): Promise<void> {
  const ed = envelope.sigs.find((s) => s.alg === "ed25519");
  if (!ed || !(await verifyEd25519(keys.ed25519, message, ed.sig))) {
    throw new InvalidSignatureError(
      `Envelope ${envelope.kind} #${envelope.seq} by "${envelope.author}" has no valid Ed25519 signature`,
    );
  }
  const pq = envelope.sigs.find((s) => s.alg === "ml-dsa-65");
  if (keys.mlDsa65) {
    if (!pq || !(await verifyMlDsa65(keys.mlDsa65, message, pq.sig))) {
      throw new InvalidSignatureError(
        `Envelope ${envelope.kind} #${envelope.seq} by "${envelope.author}" has no valid ML-DSA-65 signature`,
      );
    }
  } else if (pq) {
    throw new InvalidSignatureError(
      `Envelope ${envelope.kind} #${envelope.seq} carries an ML-DSA-65 signature but "${envelope.author}" has no ML-DSA key`,
    );
  }
}

/** Builds the identity record an inception produces. */
export function recordFromInception(envelope: Envelope, cid: string): IdentityRecord {
  const body = checkInception(envelope);
  const keys = canonicalKeySet(body.keys);
  const period: KeyPeriod = { ed25519: keys.ed25519, seq: 0, from: envelope.ts };
  if (keys.mlDsa65) period.mlDsa65 = keys.mlDsa65;
  return {
    did: envelope.author,
    seq: 0,
    head: cid,
    created: envelope.ts,
    keys,
    next: body.next,
    history: [period],
  };
}

function signingPair(
  keys: Pick<KeySet, "ed25519" | "mlDsa65">,
): Pick<KeySet, "ed25519" | "mlDsa65"> {
  return keys.mlDsa65
    ? { ed25519: keys.ed25519, mlDsa65: keys.mlDsa65 }
    : { ed25519: keys.ed25519 };
}

/**
 * Keys that may sign an envelope by `record`'s identity dated `ts`: the keys
 * of the period that contains `ts`. An envelope dated after a rotation must
 * carry the new keys' signatures, so a superseded key is useless for new
 * envelopes. An envelope dated before the rotation keeps verifying with the
 * key of its time; when the receipt time `now` is given, only within
 * `supersededKeyGraceMs` of the rotation (a thief holding an old key cannot
 * backdate envelopes into its period after the grace). Without `now` (replay
 * of stored history) the period's key is returned.
 */
export function signingKeysAt(
  record: IdentityRecord,
  ts: number,
  now?: number,
): Pick<KeySet, "ed25519" | "mlDsa65"> {
  const archived = record.archived ?? 0;
  for (let i = record.history.length - 1; i >= 0; i--) {
    const period = record.history[i];
    if (ts >= period.from || (i === 0 && archived === 0)) {
      if (
        period.until !== undefined && now !== undefined && now > period.until + supersededKeyGraceMs
      ) {
        throw new RejectedError(
          "superseded_key",
          `Envelope by "${record.did}" is dated before the rotation at ${
            new Date(period.until).toISOString()
          } and arrived after the ${supersededKeyGraceMs / 1000} s grace period`,
        );
      }
      return signingPair(period);
    }
  }
  throw new RejectedError(
    "superseded_key",
    `Envelope by "${record.did}" is dated in a key period this node no longer keeps (${archived} archived)`,
  );
}

/** True when two key sets are identical. */
export function sameKeys(a: KeySet, b: KeySet): boolean {
  return bytesEqual(a.ed25519, b.ed25519) && bytesEqual(a.x25519, b.x25519) &&
    optionalEqual(a.mlDsa65, b.mlDsa65) && optionalEqual(a.mlKem768, b.mlKem768);
}

function optionalEqual(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : bytesEqual(a, b);
}

/** Throws `UnknownIdentityError` for a missing record. */
export function requireIdentity(record: IdentityRecord | undefined, did: string): IdentityRecord {
  if (!record) throw new UnknownIdentityError(did);
  return record;
}

// ---------------------------------------------------------------------------
// Rotation and PQ binding

/** The bytes a rotation's `proof` signs: binds the revealed keys to this exact KEL position. */
export function proofMessage(
  envelope: Pick<Envelope, "author" | "seq" | "prev" | "kind">,
  keys: KeySet,
  next: Uint8Array,
): Uint8Array {
  const { author, seq, prev, kind } = envelope;
  return concatBytes(
    proofDomain,
    dagCbor.encode({ author, seq, prev, kind, keys: canonicalKeySet(keys), next }),
  );
}

/** Checks `proof` signatures by `keys` (Ed25519, plus ML-DSA-65 when the key set has it). */
export async function verifyProof(
  proof: unknown,
  message: Uint8Array,
  keys: KeySet,
): Promise<void> {
  if (!Array.isArray(proof) || proof.length < 1 || proof.length > 2) {
    throw new RejectedError("malformed", "Key proof is missing or malformed");
  }
  const find = (alg: string) =>
    (proof as EnvelopeSignature[]).find((s) =>
      typeof s === "object" && s !== null && s.alg === alg && s.sig instanceof Uint8Array
    );
  const ed = find("ed25519");
  if (!ed || !(await verifyEd25519(keys.ed25519, message, ed.sig))) {
    throw new InvalidSignatureError("Key proof has no valid Ed25519 signature by the revealed key");
  }
  if (keys.mlDsa65) {
    const pq = find("ml-dsa-65");
    if (!pq || !(await verifyMlDsa65(keys.mlDsa65, message, pq.sig))) {
      throw new InvalidSignatureError(
        "Key proof has no valid ML-DSA-65 signature by the revealed key",
      );
    }
  }
}

/** Checks that a non-inception KEL event is in the KEL and its author has one. */
export function checkKelEnvelope(
  envelope: Envelope,
  record: IdentityRecord | undefined,
): IdentityRecord {
  if (envelope.net !== kelNet) {
    throw new RejectedError(
      "malformed",
      `A ${envelope.kind} event belongs in the key event log, not network ${envelope.net}`,
    );
  }
  if (!record) {
    throw new RejectedError(
      "unknown_author",
      `Unknown author "${envelope.author}": no key event log`,
    );
  }
  return record;
}

/**
 * The author's own keys for the KEL event at `envelope.seq` of an identity
 * whose log already holds that position: the inception key (the DID) at seq 0,
 * else the keys in force just before that seq (plus, for a pq-binding, the
 * ML-DSA key it binds, since it signs with it). Used to tell a fork (two events
 * both signed by the author) from a forgery. Keys of the current record are not
 * enough: the position may predate a later rotation. Recovery events signed by
 * requested keys are not the author's keys and never count.
 */
export function kelSignersAtSeq(
  record: IdentityRecord,
  envelope: Envelope,
): Pick<KeySet, "ed25519" | "mlDsa65"> {
  if (envelope.seq === 0) return signingPair(checkInception(envelope).keys);
  let period: KeyPeriod | undefined;
  for (const candidate of record.history) {
    if (candidate.seq < envelope.seq) period = candidate;
  }
  if (!period) {
    throw new RejectedError(
      "superseded_key",
      `Cannot check ${envelope.kind} #${envelope.seq} by "${record.did}": the keys of that time are archived`,
    );
  }
  const keys = signingPair(period);
  if (envelope.kind === "id.pq-binding" && !keys.mlDsa65) {
    const bound = checkRotationBody(envelope).keys.mlDsa65;
    if (bound) return { ed25519: keys.ed25519, mlDsa65: bound };
  }
  return keys;
}

/** Checks a rotation or pq-binding body's shape. */
export function checkRotationBody(envelope: Envelope): RotationBody {
  const body = envelope.body as Record<string, unknown>;
  if (
    typeof body !== "object" || body === null || !isBytes(body.next, 32) ||
    !rotationReasons.includes(body.reason as RotationReason) ||
    Object.keys(body).some((k) => !["keys", "next", "reason", "proof"].includes(k))
  ) {
    throw new RejectedError("malformed", `${envelope.kind} body is malformed`);
  }
  checkKeySet(body.keys);
  return body as unknown as RotationBody;
}

/** Keys that must sign a rotation/pq-binding envelope: the current keys (plus the new ML-DSA key for a binding). */
export function rotationSigningKeys(
  envelope: Envelope,
  record: IdentityRecord | undefined,
): Pick<KeySet, "ed25519" | "mlDsa65"> {
  const current = checkKelEnvelope(envelope, record);
  if (envelope.kind === "id.pq-binding") {
    const body = checkRotationBody(envelope);
    if (!body.keys.mlDsa65) {
      throw new RejectedError("malformed", "A pq-binding must add ML-DSA-65 and ML-KEM-768 keys");
    }
    return { ed25519: current.keys.ed25519, mlDsa65: body.keys.mlDsa65 };
  }
  return signingPair(current.keys);
}

/**
 * Applies a rotation or pq-binding whose envelope signatures were verified
 * with `rotationSigningKeys`. Returns the new record and the periods to archive.
 */
export async function applyRotation(
  envelope: Envelope,
  cid: string,
  previous: IdentityRecord | undefined,
): Promise<{ record: IdentityRecord; archive: { index: number; period: KeyPeriod }[] }> {
  const record = checkKelEnvelope(envelope, previous);
  const body = checkRotationBody(envelope);
  const binding = envelope.kind === "id.pq-binding";
  if (!record.next) {
    throw new RejectedError(
      "no_next_keys",
      `Cannot rotate "${record.did}": its key event log commits to no next keys`,
    );
  }
  if (binding && record.keys.mlDsa65) {
    throw new RejectedError(
      "already_pq",
      `Cannot bind PQ keys to "${record.did}": it already has ML-DSA-65 keys`,
    );
  }
  if (!binding && record.keys.mlDsa65 && !body.keys.mlDsa65) {
    throw new RejectedError(
      "pq_downgrade",
      `Cannot rotate "${record.did}" to classical keys: it has ML-DSA-65 keys (no downgrade)`,
    );
  }
  const committed = binding ? { ed25519: body.keys.ed25519, x25519: body.keys.x25519 } : body.keys;
  if (!bytesEqual(await nextKeysDigest(committed), record.next)) {
    throw new RejectedError(
      "next_keys_mismatch",
      `Cannot rotate "${record.did}": the revealed keys do not match the digest committed at KEL seq ${record.seq}`,
    );
  }
  await verifyProof(body.proof, proofMessage(envelope, body.keys, body.next), body.keys);
  return installKeys(record, envelope, cid, body.keys, body.next);
}

/** Supersedes the current key period with `keys` at `envelope.ts`. */
export function installKeys(
  previous: IdentityRecord,
  envelope: Envelope,
  cid: string,
  keys: KeySet,
  next: Uint8Array,
): { record: IdentityRecord; archive: { index: number; period: KeyPeriod }[] } {
  const canonical = canonicalKeySet(keys);
  // Only the superseded period changes; the older ones are shared, not copied (records are values).
  const history = [...previous.history];
  history[history.length - 1] = { ...history[history.length - 1], until: envelope.ts };
  const period: KeyPeriod = { ed25519: canonical.ed25519, seq: envelope.seq, from: envelope.ts };
  if (canonical.mlDsa65) period.mlDsa65 = canonical.mlDsa65;
  history.push(period);
  const archive: { index: number; period: KeyPeriod }[] = [];
  let archived = previous.archived ?? 0;
  let bytes = history.reduce((n, p) => n + periodBytes(p), 0);
  while (history.length > 1 && bytes > historyBytesMax) {
    const dropped = history.shift()!;
    bytes -= periodBytes(dropped);
    archive.push({ index: archived++, period: dropped });
  }
  const record: IdentityRecord = {
    ...previous,
    seq: envelope.seq,
    head: cid,
    keys: canonical,
    next,
    history,
  };
  delete record.pendingRecovery;
  if (archived > 0) record.archived = archived;
  return { record, archive };
}

function periodBytes(period: KeyPeriod): number {
  return periodOverheadBytes + period.ed25519.length + (period.mlDsa65?.length ?? 0);
}

/** Keeps a record current for a KEL event that changes no keys. */
export function advanceRecord(
  record: IdentityRecord,
  envelope: Envelope,
  cid: string,
): IdentityRecord {
  return { ...record, seq: envelope.seq, head: cid };
}

/** Short printable id of a digest (first 16 hex digits). */
export function shortDigest(bytes: Uint8Array): string {
  return toHex(bytes).slice(0, 16);
}
