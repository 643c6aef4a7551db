/**
 * The upgrade announce: a member node's protocol version, signed by its DID's current key and
 * gossiped on one topic per network (`/icn/<net>/upgrade/1`), so every node learns the versions
 * of the network's member nodes, not only of its direct neighbours (whose signed hellos say the
 * same). It is the hello's version claim without the hello's per-connection binding (`from`,
 * `to`): what it adds is reach. DAG-CBOR, canonical, at most `announceBytesMax` bytes.
 */
import * as dagCbor from "@ipld/dag-cbor";
import { utf8Encode } from "../core/bytes.ts";
import { RejectedError } from "../core/errors.ts";
import { type Ed25519KeyPair, signEd25519, verifyEd25519 } from "../core/identity/keys.ts";
import { bytes, decodeCanonicalCbor, did, record, string, timestamp } from "../core/strict.ts";

/** Largest announce: its fields are well under 512 bytes. */
export const announceBytesMax = 1024;

const announceDomain = "icn/upgrade-announce/v1\n";

export interface UpgradeAnnounce {
  did: string;
  /** The network it is announced in (one topic per network; a copy replayed elsewhere is refused). */
  net: string;
  /** The protocol version the member's node runs. */
  version: string;
  /** The node's libp2p peer id. */
  peer: string;
  ts: number;
  sig: Uint8Array;
}

/** The gossip topic of a network's upgrade announces. */
export function announceTopicOf(net: string): string {
  return `/icn/${net}/upgrade/1`;
}

const announceShape = record({
  did,
  net: string({ min: 1, max: 128 }),
  version: string({ max: 32, pattern: /^\d{1,6}\.\d{1,6}\.\d{1,6}$/ }),
  peer: string({ min: 1, max: 128, pattern: /^[1-9A-HJ-NP-Za-km-z]+$/ }),
  ts: timestamp,
  sig: bytes({ length: 64 }),
});

function signingBytes(announce: Omit<UpgradeAnnounce, "sig">): Uint8Array {
  const body = dagCbor.encode({
    did: announce.did,
    net: announce.net,
    version: announce.version,
    peer: announce.peer,
    ts: announce.ts,
  });
  const domain = utf8Encode(announceDomain);
  const out = new Uint8Array(domain.length + body.length);
  out.set(domain);
  out.set(body, domain.length);
  return out;
}

/** Signs and encodes an announce. */
export async function encodeAnnounce(
  announce: Omit<UpgradeAnnounce, "sig">,
  key: Ed25519KeyPair,
): Promise<Uint8Array> {
  const sig = await signEd25519(key, signingBytes(announce));
  return dagCbor.encode({ ...announce, sig });
}

/** Decodes an announce strictly; throws `RejectedError("malformed")`. */
export function decodeAnnounce(data: Uint8Array): UpgradeAnnounce {
  return decodeCanonicalCbor(data, announceShape, {
    what: "upgrade announce",
    bytesMax: announceBytesMax,
    refuse: (message) => new RejectedError("malformed", message),
  });
}

export function verifyAnnounce(announce: UpgradeAnnounce, publicKey: Uint8Array): Promise<boolean> {
  return verifyEd25519(publicKey, signingBytes(announce), announce.sig);
}
