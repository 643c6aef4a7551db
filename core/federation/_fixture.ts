/** Test fixture: cooperatives with signed genesis files, and federation files built from them. */
import { toBase64 } from "../bytes.ts";
import { signEd25519 } from "../identity/keys.ts";
import {
  createGenesis,
  type GenesisFile,
  genesisId,
  genesisSigningBytes,
} from "../governance/genesis.ts";
import { type TestIdentity, testIdentity } from "../testing.ts";
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
  options: { unsigned?: boolean; delegates?: number } = {},
): Promise<FederationFile> {
  let file = await createFederationGenesis({
    name: "Test federation",
    created: t0,
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
