import { concatBytes } from "../bytes.ts";
import { multibaseKey } from "./did.ts";
import type { IdentityRecord, KeySet } from "./kel.ts";

// Multicodec prefixes for Multikey encodings (varint of 0xed, 0xec, 0x1211, 0x120c).
const multicodec = {
  ed25519: new Uint8Array([0xed, 0x01]),
  x25519: new Uint8Array([0xec, 0x01]),
  mlDsa65: new Uint8Array([0x91, 0x24]),
  mlKem768: new Uint8Array([0x8c, 0x24]),
};

/** Multikey `publicKeyMultibase` of a raw key. */
export function multikey(kind: keyof typeof multicodec, raw: Uint8Array): string {
  return multibaseKey(concatBytes(multicodec[kind], raw));
}

export interface DidDocument {
  "@context": string[];
  id: string;
  verificationMethod: {
    id: string;
    type: string;
    controller: string;
    publicKeyMultibase: string;
  }[];
  authentication: string[];
  assertionMethod: string[];
  keyAgreement: string[];
  service: { id: string; type: string; serviceEndpoint: string }[];
  /** icn extension: KEL position and superseded keys, so a reader sees the history. */
  icn: {
    kelSeq: number;
    kelHead: string;
    created: number;
    keyHistory: { seq: number; from: number; until?: number; ed25519: string }[];
  };
}

/** The DID document derived from an identity's KEL state. */
export function didDocument(
  record: IdentityRecord,
  services: DidDocument["service"] = [],
): DidDocument {
  const { did, keys } = record;
  const methods: DidDocument["verificationMethod"] = [];
  const add = (kind: keyof KeySet & keyof typeof multicodec, fragment: string) => {
    const raw = keys[kind];
    if (!raw) return undefined;
    const id = `${did}#${fragment}`;
    methods.push({
      id,
      type: "Multikey",
      controller: did,
      publicKeyMultibase: multikey(kind, raw),
    });
    return id;
  };
  const ed = add("ed25519", "ed25519-" + record.history.length)!;
  const x = add("x25519", "x25519-" + record.history.length)!;
  const pq = add("mlDsa65", "ml-dsa-65");
  const kem = add("mlKem768", "ml-kem-768");
  return {
    "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
    id: did,
    verificationMethod: methods,
    authentication: pq ? [ed, pq] : [ed],
    assertionMethod: pq ? [ed, pq] : [ed],
    keyAgreement: kem ? [x, kem] : [x],
    service: services,
    icn: {
      kelSeq: record.seq,
      kelHead: record.head,
      created: record.created,
      keyHistory: record.history.map((p) => ({
        seq: p.seq,
        from: p.from,
        ...(p.until !== undefined ? { until: p.until } : {}),
        ed25519: multikey("ed25519", p.ed25519),
      })),
    },
  };
}
