/**
 * Offline exchange bundles: CAR v1 files whose root is a small manifest and
 * whose blocks are envelopes in acceptance order. Decoding checks every
 * block's CID against its bytes; the envelopes then go through `ingest`.
 */
import { CarReader, CarWriter } from "@ipld/car";
import * as dagCbor from "@ipld/dag-cbor";
import { CID } from "multiformats/cid";
import { bytesEqual } from "../bytes.ts";
import { kelNet, netIdLengthMax } from "../constants.ts";
import { contentId, decodeEnvelope, type SealedEnvelope } from "../envelope/envelope.ts";
import { InvalidInputError, shown } from "../errors.ts";
import {
  decodeCanonicalCbor,
  integer,
  literal,
  natural,
  nullable,
  record,
  string,
  timestamp,
} from "../strict.ts";

export interface BundleManifest {
  v: 1;
  /** Network of the envelopes (KEL envelopes travel with them). */
  net: string | null;
  count: number;
  /** Log range exported: [since, next). */
  since: number;
  next: number;
  created: number;
}

/** Largest bundle we read into memory at once. */
export const bundleBytesMax = 1024 * 1024 * 1024;
const blocksMax = 5_000_000;
/** Largest manifest block (six small fields: about 100 bytes). */
const manifestBytesMax = 1024;
/** Characters of a parser's own message a refusal quotes: enough to say what broke, one line. */
const causeLengthMax = 120;

const manifestShape = record({
  v: literal(1),
  net: nullable(string({ min: 1, max: netIdLengthMax })),
  count: integer({ min: 0, max: blocksMax }),
  since: natural,
  next: natural,
  created: timestamp,
});

export async function encodeBundle(
  manifest: BundleManifest,
  envelopes: readonly Uint8Array[],
): Promise<Uint8Array> {
  const manifestBytes = dagCbor.encode(manifest);
  const root = CID.parse(await contentId(manifestBytes));
  const { writer, out } = CarWriter.create([root]);
  const chunks: Uint8Array[] = [];
  const collecting = (async () => {
    for await (const chunk of out) chunks.push(chunk);
  })();
  await writer.put({ cid: root as never, bytes: manifestBytes });
  for (const bytes of envelopes) {
    await writer.put({ cid: CID.parse(await contentId(bytes)) as never, bytes });
  }
  await writer.close();
  await collecting;
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}

function fail(why: string): never {
  throw new InvalidInputError(`Cannot read bundle: ${why}`);
}

/** Decodes and checks a bundle: CAR structure, manifest, every block's hash. */
export async function decodeBundle(
  bytes: Uint8Array,
): Promise<{ manifest: BundleManifest; envelopes: Uint8Array[] }> {
  if (bytes.length > bundleBytesMax) fail(`larger than ${bundleBytesMax} bytes`);
  let reader: CarReader;
  try {
    reader = await CarReader.fromBytes(bytes);
  } catch (error) {
    return fail(`not a CAR file (${shown((error as Error)?.message, causeLengthMax)})`);
  }
  const roots = await reader.getRoots();
  if (roots.length !== 1) fail("expected exactly one root (the manifest)");
  if (!CID.asCID(roots[0])) fail("its root is not a CID");
  const envelopes: Uint8Array[] = [];
  let manifest: BundleManifest | undefined;
  let index = 0;
  try {
    for await (const block of reader.blocks()) {
      if (++index > blocksMax) fail("too many blocks");
      const expected = await contentId(block.bytes);
      if (block.cid.toString() !== expected) {
        fail(`block ${index} does not match its CID (tampered)`);
      }
      if (index === 1) {
        if (!roots[0].equals(block.cid)) fail("first block is not the manifest");
        manifest = decodeCanonicalCbor(block.bytes, manifestShape, {
          what: "bundle manifest",
          bytesMax: manifestBytesMax,
        });
        continue;
      }
      envelopes.push(block.bytes);
    }
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    fail(`truncated or corrupt (${shown((error as Error)?.message, causeLengthMax)})`);
  }
  if (!manifest) fail("the manifest is missing");
  if (manifest.next < manifest.since) {
    fail(`its manifest's log range ends (${manifest.next}) before it starts (${manifest.since})`);
  }
  if (manifest.count !== envelopes.length) {
    fail(`manifest announces ${manifest.count} envelopes but the bundle holds ${envelopes.length}`);
  }
  for (let i = 1; i < envelopes.length; i++) {
    if (bytesEqual(envelopes[i], envelopes[i - 1])) fail("repeated block");
  }
  return { manifest, envelopes };
}

/** A bundle's envelopes as a data dir can take them now (see `splitForImport`). */
export interface ImportSplit {
  /** What goes to `ingest`, in the bundle's order: decoded envelopes, or bytes that did not decode. */
  now: (SealedEnvelope | Uint8Array)[];
  /** Envelopes of networks the data dir has not joined, counted per network; not applied. */
  notJoined: Map<string, number>;
}

/**
 * Splits a bundle's envelopes for a data dir whose network is `joined`
 * (null: none yet). A data dir that has not joined a network can still take
 * key event logs (the first step of a recovery in a fresh data dir), so the
 * envelopes of a network are set aside, counted, and left for an import
 * after `join`. Nothing else is set aside: once joined, an envelope of
 * another network is refused as ever, and an envelope that does not decode
 * stays in `now`, so `ingest` refuses it (and, all or nothing, the bundle).
 */
export async function splitForImport(
  envelopes: readonly Uint8Array[],
  joined: string | null,
): Promise<ImportSplit> {
  const now: (SealedEnvelope | Uint8Array)[] = [];
  const notJoined = new Map<string, number>();
  for (const bytes of envelopes) {
    let sealed: SealedEnvelope;
    try {
      sealed = await decodeEnvelope(bytes);
    } catch {
      now.push(bytes);
      continue;
    }
    const { net } = sealed.envelope;
    if (joined === null && net !== kelNet) {
      notJoined.set(net, (notJoined.get(net) ?? 0) + 1);
    } else {
      now.push(sealed);
    }
  }
  return { now, notJoined };
}
