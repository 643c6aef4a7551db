/** Test fixture: cooperatives with signed genesis files, and federation files built from them. */
import { toBase64 } from "../bytes.ts";
import { ingest, type IngestOutcome } from "../chain/ingest.ts";
import { StateOverlay } from "../chain/state.ts";
import { type SealedEnvelope, sealEnvelope } from "../envelope/envelope.ts";
import { kindRegistryFor } from "../kinds.ts";
import type { Params } from "../params.ts";
import { fixedClock } from "../ports.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { signEd25519 } from "../identity/keys.ts";
import {
  createGenesis,
  type GenesisFile,
  genesisId,
  genesisSigningBytes,
} from "../governance/genesis.ts";
import { type TestIdentity, testIdentity } from "../testing.ts";
import { joinFederation } from "./join.ts";
import { FederationView } from "./view.ts";
import {
  addFederationSignature,
  createFederationGenesis,
  type FederationFile,
  federationSigningBytes,
} from "./genesis.ts";

export const t0 = Date.UTC(2026, 0, 1);

export interface TestCoop {
  name: string;
  net: string;
  file: GenesisFile;
  members: TestIdentity[];
}

const identities = new Map<number, Promise<TestIdentity>>();

/** A deterministic identity, made once per test process (key derivation is the slow part). */
export function identity(seed: number): Promise<TestIdentity> {
  let found = identities.get(seed);
  if (!found) identities.set(seed, found = testIdentity(seed));
  return found;
}

/** A cooperative whose founders are identities `seeds`, its genesis signed by all of them. */
export async function testCoop(name: string, seeds: readonly number[]): Promise<TestCoop> {
  const members = await Promise.all(seeds.map(identity));
  const genesis = createGenesis({ name, members: members.map((m) => m.did), created: t0 });
  const net = await genesisId(genesis);
  const message = genesisSigningBytes(genesis);
  const signatures = [];
  for (const m of members) {
    signatures.push({ did: m.did, sig: toBase64(await signEd25519(m.ed25519, message)) });
  }
  signatures.sort((a, b) => (a.did < b.did ? -1 : 1));
  return { name, net, file: { id: net, genesis, signatures }, members };
}

/** A federation of `coops`, the first member of each its delegate; signed by them unless `unsigned`. */
export async function testFederation(
  coops: readonly TestCoop[],
  options: { unsigned?: boolean; delegates?: number; params?: Params } = {},
): Promise<FederationFile> {
  let file = await createFederationGenesis({
    name: "Test federation",
    created: t0,
    params: options.params,
    founders: coops.map((c) => ({
      genesisFile: c.file,
      delegates: c.members.slice(0, options.delegates ?? 1).map((m) => m.did),
    })),
  });
  if (options.unsigned) return file;
  const message = federationSigningBytes(file.genesis);
  for (const c of coops) {
    const delegate = c.members[0];
    file = addFederationSignature(file, {
      coop: c.net,
      did: delegate.did,
      signature: await signEd25519(delegate.ed25519, message),
    });
  }
  return file;
}

const kinds = kindRegistryFor("federation");

/** A node's store that has joined a federation, with every member's key event log. */
export class FederationNet {
  readonly store = new MemoryStore();
  readonly clock = fixedClock(t0);
  readonly #heads = new Map<string, { seq: number; prev: string | null; ts: number }>();

  private constructor(readonly file: FederationFile) {}

  get net(): string {
    return this.file.id;
  }

  /** Joins `file`; `people` are every identity that will write (their inceptions are ingested). */
  static async create(
    file: FederationFile,
    people: readonly TestIdentity[],
  ): Promise<FederationNet> {
    const fed = new FederationNet(file);
    const joined = await joinFederation(fed.store, file);
    if (joined.status !== "joined") throw new Error(`Fixture store did not join: ${joined.status}`);
    const inceptions = [...new Map(people.map((p) => [p.did, p.inception])).values()];
    await ingest(fed.deps, inceptions, { source: "import" });
    return fed;
  }

  get deps() {
    return { store: this.store, clock: this.clock, kinds };
  }

  view(): FederationView {
    return new FederationView(new StateOverlay(this.store), this.file.genesis);
  }

  async seal(who: TestIdentity, kind: string, body: unknown, ts: number): Promise<SealedEnvelope> {
    const head = this.#heads.get(who.did) ?? { seq: 0, prev: null, ts };
    const sealed = await sealEnvelope({
      net: this.net,
      kind,
      seq: head.seq,
      prev: head.prev,
      ts: Math.max(ts, head.ts),
      body,
    }, who.signer);
    this.#heads.set(who.did, { seq: head.seq + 1, prev: sealed.cid, ts: Math.max(ts, head.ts) });
    return sealed;
  }

  async #ingest(sealed: SealedEnvelope): Promise<IngestOutcome> {
    const saved = this.clock.now();
    this.clock.set(Math.max(saved, sealed.envelope.ts));
    try {
      return (await ingest(this.deps, [sealed], { source: "import" }))[0];
    } finally {
      this.clock.set(saved);
    }
  }

  /** Seals and ingests; returns "accepted" or the rejection reason (the author's chain is kept intact). */
  async attempt(who: TestIdentity, kind: string, body: unknown, ts: number): Promise<string> {
    const head = this.#heads.get(who.did);
    const outcome = await this.#ingest(await this.seal(who, kind, body, ts));
    if (outcome.status === "rejected") {
      if (head) this.#heads.set(who.did, head);
      else this.#heads.delete(who.did);
      this.lastRejection = outcome.message;
      return outcome.reason;
    }
    return outcome.status;
  }

  /** Message of the last rejection `attempt` saw. */
  lastRejection = "";

  /** Seals and ingests; throws when it is rejected. Returns the envelope's CID. */
  async submit(who: TestIdentity, kind: string, body: unknown, ts: number): Promise<string> {
    const sealed = await this.seal(who, kind, body, ts);
    const outcome = await this.#ingest(sealed);
    if (outcome.status !== "accepted") {
      throw new Error(`${kind} rejected: ${outcome.status === "rejected" ? outcome.message : ""}`);
    }
    return sealed.cid;
  }
}
