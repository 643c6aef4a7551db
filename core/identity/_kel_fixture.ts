/** Test and benchmark fixture: identities with pre-generated key generations, driven through `ingest`. */
import { ingest, type IngestOutcome } from "../chain/ingest.ts";
import type { ChainHead } from "../chain/keys.ts";
import { kelNet } from "../constants.ts";
import { type SealedEnvelope, sealEnvelope, type Signer } from "../envelope/envelope.ts";
import type { Rng } from "../ports.ts";
import type { Store } from "../store/store.ts";
import { didFromPublicKey } from "./did.ts";
import { type KeySet, nextKeysDigest, type RotationReason } from "./kel.ts";
import {
  ed25519FromSeed,
  type Ed25519KeyPair,
  mlDsa65FromSeed,
  type MlDsa65KeyPair,
  mlKem768PublicFromSeed,
  x25519FromSeed,
} from "./keys.ts";
import { identityKinds } from "./kinds.ts";
import { sealRotation } from "./rotation.ts";
import { createSigner } from "./signer.ts";

export interface KeyGeneration {
  ed25519: Ed25519KeyPair;
  mlDsa65?: MlDsa65KeyPair;
  keys: KeySet;
}

export async function generation(rng: Rng, pq: boolean): Promise<KeyGeneration> {
  const ed25519 = await ed25519FromSeed(rng.bytes(32));
  const x = await x25519FromSeed(rng.bytes(32));
  const keys: KeySet = { ed25519: ed25519.publicKey, x25519: x.publicKey };
  if (!pq) return { ed25519, keys };
  const mlDsa65 = await mlDsa65FromSeed(rng.bytes(32));
  keys.mlDsa65 = mlDsa65.publicKey;
  keys.mlKem768 = await mlKem768PublicFromSeed(rng.bytes(64));
  return { ed25519, mlDsa65, keys };
}

/** An identity under test: `current` signs, `next` is committed in the KEL. */
export class TestIdentity {
  did = "";
  current!: KeyGeneration;
  next!: KeyGeneration;
  head!: ChainHead;
  readonly log: SealedEnvelope[] = [];
  constructor(readonly rng: Rng, public pq: boolean) {}

  /** Snapshot of the key state, to undo an event a test expects to be rejected. */
  save(): { current: KeyGeneration; next: KeyGeneration; head: ChainHead; length: number } {
    return { current: this.current, next: this.next, head: this.head, length: this.log.length };
  }

  load(saved: ReturnType<TestIdentity["save"]>): void {
    this.current = saved.current;
    this.next = saved.next;
    this.head = saved.head;
    this.log.length = saved.length;
  }

  signer(gen: KeyGeneration = this.current): Signer {
    return createSigner(this.did, gen.ed25519, gen.mlDsa65);
  }

  async incept(ts: number): Promise<SealedEnvelope> {
    this.current = await generation(this.rng, this.pq);
    this.next = await generation(this.rng, this.pq);
    this.did = didFromPublicKey(this.current.keys.ed25519);
    const sealed = await sealEnvelope({
      net: kelNet,
      kind: "id.inception",
      seq: 0,
      prev: null,
      ts,
      body: { keys: this.current.keys, next: await nextKeysDigest(this.next.keys) },
    }, this.signer());
    return this.#advance(sealed);
  }

  #advance(sealed: SealedEnvelope): SealedEnvelope {
    this.head = { seq: sealed.envelope.seq, cid: sealed.cid, ts: sealed.envelope.ts };
    this.log.push(sealed);
    return sealed;
  }

  /** Seals a rotation to the committed next keys (not yet ingested; call `accept`). */
  async rotation(ts: number, reason: RotationReason = "scheduled"): Promise<SealedEnvelope> {
    const after = await generation(this.rng, this.pq);
    const sealed = await sealRotation({
      kind: "id.rotation",
      head: this.head,
      ts,
      signer: this.signer(),
      revealed: this.signer(this.next),
      keys: this.next.keys,
      next: await nextKeysDigest(after.keys),
      reason,
    });
    this.current = this.next;
    this.next = after;
    return this.#advance(sealed);
  }

  /** Seals a pq-binding: reveals the classical next keys and adds fresh ML-DSA/ML-KEM keys. */
  async pqBinding(ts: number): Promise<SealedEnvelope> {
    const pqPart = await generation(this.rng, true);
    const installed: KeyGeneration = {
      ed25519: this.next.ed25519,
      mlDsa65: pqPart.mlDsa65,
      keys: { ...this.next.keys, mlDsa65: pqPart.keys.mlDsa65, mlKem768: pqPart.keys.mlKem768 },
    };
    const after = await generation(this.rng, true);
    const sealed = await sealRotation({
      kind: "id.pq-binding",
      head: this.head,
      ts,
      signer: createSigner(this.did, this.current.ed25519, pqPart.mlDsa65),
      revealed: this.signer(installed),
      keys: installed.keys,
      next: await nextKeysDigest(after.keys),
      reason: "upgrade",
    });
    this.current = installed;
    this.next = after;
    this.pq = true;
    return this.#advance(sealed);
  }

  /** Seals any event at the head of this identity's chain in `net` with `signer`. */
  async event(
    kind: string,
    body: unknown,
    ts: number,
    options: { signer?: Signer; net?: string; head?: ChainHead | null } = {},
  ): Promise<SealedEnvelope> {
    const net = options.net ?? kelNet;
    const head = options.head !== undefined ? options.head : net === kelNet ? this.head : null;
    const sealed = await sealEnvelope({
      net,
      kind,
      seq: head ? head.seq + 1 : 0,
      prev: head ? head.cid : null,
      ts,
      body,
    }, options.signer ?? this.signer());
    return net === kelNet ? this.#advance(sealed) : sealed;
  }
}

/** Ingests one envelope locally-sourced-like (`import`), returning its outcome. */
export async function accept(
  store: Store,
  sealed: SealedEnvelope | Uint8Array,
  now: number,
  kinds = identityKinds,
): Promise<IngestOutcome> {
  const [outcome] = await ingest({ store, clock: { now: () => now }, kinds }, [sealed], {
    source: "import",
  });
  return outcome;
}
