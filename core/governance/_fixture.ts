/** Test fixture: a cooperative in a MemoryStore with members who seal governance envelopes offline. */
import { ingest, type IngestOutcome, type KindRegistry } from "../chain/ingest.ts";
import { StateOverlay } from "../chain/state.ts";
import { kelNet } from "../constants.ts";
import { type SealedEnvelope, sealEnvelope, type Signer } from "../envelope/envelope.ts";
import { didFromPublicKey } from "../identity/did.ts";
import { nextKeysDigest } from "../identity/kel.ts";
import { ed25519FromSeed, x25519FromSeed } from "../identity/keys.ts";
import { identityKinds } from "../identity/kinds.ts";
import { createSigner } from "../identity/signer.ts";
import type { Params } from "../params.ts";
import { fixedClock } from "../ports.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { createGenesis, type Genesis, genesisId } from "./genesis.ts";
import { governanceKinds } from "./kinds.ts";
import type { CooperativeProposalKind } from "./params.ts";
import { type ProposalAction, rulesFor } from "./view.ts";
import { joinNetwork } from "./join.ts";

export const t0 = Date.UTC(2026, 0, 1);

export interface Person {
  did: string;
  signer: Signer;
  inception: SealedEnvelope;
  seq: number;
  prev: string | null;
  ts: number;
}

export async function person(index: number): Promise<Person> {
  const seed = new Uint8Array(32);
  seed[0] = index & 0xff;
  seed[1] = (index >> 8) & 0xff;
  seed[2] = (index >> 16) & 0xff;
  seed[31] = 7;
  const ed = await ed25519FromSeed(seed);
  const x = await x25519FromSeed(seed.map((b) => b ^ 0x55));
  const did = didFromPublicKey(ed.publicKey);
  const signer = createSigner(did, ed);
  const keys = { ed25519: ed.publicKey, x25519: x.publicKey };
  const inception = await sealEnvelope({
    net: kelNet,
    kind: "id.inception",
    seq: 0,
    prev: null,
    ts: t0 - 1000,
    body: { keys, next: await nextKeysDigest(keys) },
  }, signer);
  return { did, signer, inception, seq: 0, prev: null, ts: t0 };
}

export const kinds: KindRegistry = new Map([...identityKinds, ...governanceKinds]);

export class Coop {
  readonly store = new MemoryStore();
  readonly clock = fixedClock(t0);
  constructor(readonly genesis: Genesis, readonly net: string, readonly people: Person[]) {}

  static async create(
    founders: number,
    others = 0,
    params: Params = {},
  ): Promise<Coop> {
    const people: Person[] = [];
    for (let i = 0; i < founders + others; i++) people.push(await person(i + 1));
    const genesis = createGenesis({
      name: "Test coop",
      members: people.slice(0, founders).map((p) => p.did),
      params,
      created: t0 - 10_000,
    });
    const net = await genesisId(genesis);
    const coop = new Coop(genesis, net, people);
    await joinNetwork(coop.store, { id: net, genesis });
    await ingest(coop.deps, people.map((p) => p.inception), { source: "import" });
    return coop;
  }

  /** A read view of the current state. */
  reader(): StateOverlay {
    return new StateOverlay(this.store);
  }

  get deps() {
    return { store: this.store, clock: this.clock, kinds };
  }

  /** Seals the next envelope of `who` at `ts` without ingesting it. */
  async seal(who: Person, kind: string, body: unknown, ts: number): Promise<SealedEnvelope> {
    const sealed = await sealEnvelope({
      net: this.net,
      kind,
      seq: who.seq,
      prev: who.prev,
      ts: Math.max(ts, who.ts),
      body,
    }, who.signer);
    who.seq++;
    who.prev = sealed.cid;
    who.ts = Math.max(ts, who.ts);
    return sealed;
  }

  proposalBody(
    kind: CooperativeProposalKind,
    action: ProposalAction,
    params: Params = this.genesis.params,
  ) {
    return { kind, title: `A ${kind} proposal`, body: "", action, rules: rulesFor(params, kind) };
  }

  async ingestAll(envelopes: SealedEnvelope[]): Promise<IngestOutcome[]> {
    const saved = this.clock.now();
    this.clock.set(Math.max(saved, ...envelopes.map((e) => e.envelope.ts)));
    try {
      return await ingest(this.deps, envelopes, { source: "import" });
    } finally {
      this.clock.set(saved);
    }
  }

  /** Seals and ingests one envelope; throws when it is rejected. */
  async submit(who: Person, kind: string, body: unknown, ts: number): Promise<SealedEnvelope> {
    const sealed = await this.seal(who, kind, body, ts);
    const [outcome] = await this.ingestAll([sealed]);
    if (outcome.status !== "accepted") {
      throw new Error(`${kind} rejected: ${outcome.status === "rejected" ? outcome.message : ""}`);
    }
    return sealed;
  }

  /** Seals and ingests; returns the rejection reason (or "accepted"). */
  async attempt(who: Person, kind: string, body: unknown, ts: number): Promise<string> {
    const head = { seq: who.seq, prev: who.prev, ts: who.ts };
    const sealed = await this.seal(who, kind, body, ts);
    const [outcome] = await this.ingestAll([sealed]);
    if (outcome.status === "rejected") {
      Object.assign(who, head);
      return outcome.reason;
    }
    return outcome.status;
  }
}
