import { deepStrictEqual as assertEquals, ok as assert, rejects, throws } from "node:assert";
import fc from "fast-check";
import { IcnError, InvalidInputError, InvalidSignatureError } from "../errors.ts";
import { genesisSigningBytes } from "../governance/genesis.ts";
import { signEd25519 } from "../identity/keys.ts";
import { identity, type TestCoop, testCoop, testFederation } from "./_fixture.ts";
import {
  addFederationSignature,
  checkFederationFile,
  createFederationGenesis,
  delegatesPerCoopMax,
  type FederationFile,
  federationFileBytesMax,
  federationId,
  federationSigningBytes,
  foundersMax,
  parseFederationFile,
  serializeFederationFile,
  validateFederationGenesis,
} from "./genesis.ts";

let coopsMade: Promise<TestCoop[]> | undefined;
/** Three cooperatives: A (1, 2, 3), B (4, 5), C (6, 7). */
function coops(): Promise<TestCoop[]> {
  coopsMade ??= Promise.all([
    testCoop("Alpha", [1, 2, 3]),
    testCoop("Beta", [4, 5]),
    testCoop("Gamma", [6, 7]),
  ]);
  return coopsMade;
}

async function refused(
  input: FederationFile | string | Uint8Array,
  errorClass: typeof InvalidInputError | typeof InvalidSignatureError,
  pattern: RegExp,
  options: Parameters<typeof checkFederationFile>[1] = {},
): Promise<void> {
  await rejects(checkFederationFile(input, options), (error: unknown) => {
    assert(error instanceof errorClass, `not a ${errorClass.name}: ${error}`);
    assert(pattern.test((error as Error).message), (error as Error).message);
    return true;
  });
}

/** Re-signs a changed genesis so that only the change under test is wrong. */
async function resigned(file: FederationFile, all: TestCoop[]): Promise<FederationFile> {
  let out: FederationFile = { ...file, id: await federationId(file.genesis), signatures: [] };
  const message = federationSigningBytes(out.genesis);
  for (const coop of out.genesis.coops) {
    const member = all.flatMap((c) => c.members).find((m) => m.did === coop.delegates[0])!;
    out = addFederationSignature(out, {
      coop: coop.net,
      did: member.did,
      signature: await signEd25519(member.ed25519, message),
    });
  }
  return out;
}

Deno.test("checkFederationFile() reads a federation signed by a delegate of every founder", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b]);
  const { check } = await checkFederationFile(serializeFederationFile(file));
  assertEquals(check.id, file.id);
  assertEquals(check.missing, []);
  assertEquals(check.signed.length, 2);
  assertEquals(check.membersBy, { [a.net]: "genesis", [b.net]: "genesis" });
  // The in-memory object passes the same checks as the text.
  await checkFederationFile(file);
});

Deno.test("createFederationGenesis() lists founders by network id and delegates sorted, whatever the order given", async () => {
  const all = await coops();
  const ids = new Set<string>();
  await fc.assert(
    fc.asyncProperty(fc.shuffledSubarray(all, { minLength: 3, maxLength: 3 }), async (order) => {
      const file = await createFederationGenesis({
        name: "F",
        created: 1,
        founders: order.map((c) => ({
          genesisFile: c.file,
          delegates: [...c.members].reverse().map((m) => m.did),
        })),
      });
      ids.add(file.id);
      const nets = file.genesis.coops.map((c) => c.net);
      assertEquals(nets, [...nets].sort());
      for (const coop of file.genesis.coops) {
        assertEquals(coop.delegates, [...coop.delegates].sort());
      }
      assertEquals(file.cooperativeGeneses.map((g) => g.id), nets);
    }),
    { numRuns: 6, seed: 16 },
  );
  assertEquals(ids.size, 1);
});

Deno.test("checkFederationFile() refuses a federation a founder has not signed, unless partial", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b], { unsigned: true });
  const one = addFederationSignature(file, {
    coop: a.net,
    did: a.members[0].did,
    signature: await signEd25519(a.members[0].ed25519, federationSigningBytes(file.genesis)),
  });
  await refused(one, InvalidSignatureError, /not signed for "Beta": a delegate of every founding/);
  const { check } = await checkFederationFile(one, { partial: true });
  assertEquals(check.missing, [b.net]);
});

Deno.test("checkFederationFile() refuses a changed genesis", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b]);
  const renamed = { ...file, genesis: { ...file.genesis, name: "Other" } };
  await refused(renamed, InvalidInputError, /id does not match its content/);
  // With a matching id, the founders' signatures no longer verify.
  const reidentified = { ...renamed, id: await federationId(renamed.genesis) };
  // Signatures are checked in founder order, which is network id order.
  const first = [a, b].sort((x, y) => (x.net < y.net ? -1 : 1))[0];
  await refused(
    reidentified,
    InvalidSignatureError,
    new RegExp(`signature of "${first.members[0].did}" for "${first.name}" does not verify`),
  );
});

Deno.test("a delegate who is not a member of its cooperative is refused when created and when checked", async () => {
  const [a, b] = await coops();
  const outsider = await identity(99);
  await rejects(
    createFederationGenesis({
      name: "F",
      created: 1,
      founders: [
        { genesisFile: a.file, delegates: [outsider.did] },
        { genesisFile: b.file, delegates: [b.members[0].did] },
      ],
    }),
    new RegExp(`"${outsider.did}" as a delegate of "Alpha": not a founder in its genesis`),
  );
  const file = await testFederation([a, b]);
  const coopsList = file.genesis.coops.map((c) =>
    c.net === a.net ? { ...c, delegates: [...c.delegates, outsider.did].sort() } : c
  );
  const changed = await resigned({ ...file, genesis: { ...file.genesis, coops: coopsList } }, [
    a,
    b,
  ]);
  await refused(
    changed,
    InvalidInputError,
    new RegExp(`"${outsider.did}" as a delegate of "Alpha"`),
  );
});

Deno.test("membersOf, when it answers, decides membership instead of the cooperative's genesis", async () => {
  const [a, b] = await coops();
  const later = await identity(98);
  const file = await createFederationGenesis({
    name: "F",
    created: 1,
    founders: [
      { genesisFile: a.file, delegates: [later.did] },
      { genesisFile: b.file, delegates: [b.members[0].did] },
    ],
    // A member admitted after A's genesis: only a node holding A's network knows.
    membersOf: (net) => net === a.net ? new Set([...a.file.genesis.members, later.did]) : undefined,
  });
  const signed = addFederationSignature(
    addFederationSignature(file, {
      coop: a.net,
      did: later.did,
      signature: await signEd25519(later.ed25519, federationSigningBytes(file.genesis)),
    }),
    {
      coop: b.net,
      did: b.members[0].did,
      signature: await signEd25519(b.members[0].ed25519, federationSigningBytes(file.genesis)),
    },
  );
  const { check } = await checkFederationFile(signed, {
    membersOf: (net) => net === a.net ? new Set([later.did]) : undefined,
  });
  assertEquals(check.membersBy, { [a.net]: "state", [b.net]: "genesis" });
  // Without A's state the later member cannot be checked and is refused.
  await refused(signed, InvalidInputError, /does not hold that network to check later members/);
  // A founder removed from B (B's state says so) is no longer a valid delegate.
  await refused(
    signed,
    InvalidInputError,
    new RegExp(`"${b.members[0].did}" as a delegate of "Beta": not a member of it`),
    {
      membersOf: (net) =>
        Promise.resolve(net === b.net ? new Set([b.members[1].did]) : new Set([later.did])),
    },
  );
});

Deno.test("checkFederationFile() refuses a signature by someone who is not a delegate of the cooperative it signs for", async () => {
  const [a, b, c] = await coops();
  const file = await testFederation([a, b]);
  const notDelegate = a.members[1];
  throws(
    () =>
      addFederationSignature(file, {
        coop: a.net,
        did: notDelegate.did,
        signature: new Uint8Array(64),
      }),
    /is not one of its delegates/,
  );
  const forged = (entry: { coop: string; did: string }) => ({
    ...file,
    signatures: [...file.signatures, { ...entry, sig: file.signatures[0].sig }].sort((x, y) =>
      x.coop < y.coop ? -1 : 1
    ),
  });
  await refused(
    forged({ coop: a.net, did: notDelegate.did }),
    InvalidSignatureError,
    new RegExp(`"${notDelegate.did}" for "Alpha", who is not one of its delegates`),
  );
  // B's delegate signing for A.
  await refused(
    forged({ coop: a.net, did: b.members[0].did }),
    InvalidSignatureError,
    /who is not one of its delegates/,
  );
  await refused(
    forged({ coop: c.net, did: c.members[0].did }),
    InvalidSignatureError,
    /which is not a founder/,
  );
});

Deno.test("a founder's cooperative genesis signature cannot pass as a federation signature (domain separation)", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b]);
  const delegate = a.members[0];
  // The delegate's signature over A's own genesis, moved into the federation file.
  const other = await signEd25519(delegate.ed25519, genesisSigningBytes(a.file.genesis));
  const swapped = addFederationSignature(file, {
    coop: a.net,
    did: delegate.did,
    signature: other,
  });
  await refused(swapped, InvalidSignatureError, /for "Alpha" does not verify/);
});

Deno.test("checkFederationFile() refuses embedded cooperative genesis files that are missing, swapped or changed", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b]);
  await refused(
    { ...file, cooperativeGeneses: [file.cooperativeGeneses[0]] },
    InvalidInputError,
    /carries 1 cooperative genesis files for 2 founders/,
  );
  await refused(
    { ...file, cooperativeGeneses: [...file.cooperativeGeneses].reverse() },
    InvalidInputError,
    /at position 1 .* is network .*, not .*: the file was changed or the files were swapped/,
  );
  const first = file.cooperativeGeneses[0];
  const changed = { ...first, genesis: { ...first.genesis, name: "Changed" } };
  await refused(
    { ...file, cooperativeGeneses: [changed, file.cooperativeGeneses[1]] },
    InvalidInputError,
    /Cooperative genesis at position 1 .* is refused: Genesis id does not match/,
  );
});

Deno.test("parseFederationFile() checks the size before parsing, then the exact shape", async () => {
  const [a, b] = await coops();
  const file = await testFederation([a, b]);
  throws(() => parseFederationFile(" ".repeat(federationFileBytesMax + 1)), /the limit is/);
  throws(() => parseFederationFile(new Uint8Array([0x7b, 0xff, 0x7d])), /UTF-8/);
  throws(() => parseFederationFile("[]"), /must be a map/);
  throws(
    () => parseFederationFile(JSON.stringify({ ...file, note: 1 })),
    /unexpected field "note"/,
  );
  const bad = {
    ...file,
    genesis: { ...file.genesis, params: { "federation.voteWeight": "most" } },
  };
  throws(() => parseFederationFile(JSON.stringify(bad)), /voteWeight" has invalid value/);
  const unknown = { ...file, genesis: { ...file.genesis, params: { "credit.baseline": 1 } } };
  throws(() => parseFederationFile(JSON.stringify(unknown)), /Unknown federation parameter/);
  assertEquals(parseFederationFile(serializeFederationFile(file)), file);
});

Deno.test("validateFederationGenesis() refuses unsorted, repeated or same-named cooperatives", async () => {
  const [a, b] = await coops();
  const { genesis } = await testFederation([a, b]);
  const reversed = { ...genesis, coops: [...genesis.coops].reverse() };
  throws(() => validateFederationGenesis(reversed), /sorted by network id/);
  const twice = { ...genesis, coops: [genesis.coops[0], genesis.coops[0]] };
  throws(() => validateFederationGenesis(twice), /is listed twice/);
  const sameName = { ...genesis, coops: genesis.coops.map((c) => ({ ...c, name: "Same" })) };
  throws(() => validateFederationGenesis(sameName), /two cooperatives are named "Same"/);
  const delegates = [...genesis.coops[0].delegates, ...genesis.coops[0].delegates];
  const repeated = { ...genesis, coops: [{ ...genesis.coops[0], delegates }, genesis.coops[1]] };
  throws(
    () => validateFederationGenesis(repeated),
    new RegExp(`listed twice as a delegate of "${genesis.coops[0].name}"`),
  );
});

Deno.test("parseFederationFile() refuses random text with a typed error, never a crash", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 64 })), (input) => {
      try {
        parseFederationFile(input);
      } catch (error) {
        assert(error instanceof IcnError, `not an IcnError: ${error}`);
      }
    }),
    { numRuns: 300, seed: 16 },
  );
});

Deno.test("validateFederationGenesis() refuses more delegates or founders than its limits", async () => {
  const [a, b] = await coops();
  const { genesis } = await testFederation([a, b]);
  const seeds = Array.from({ length: delegatesPerCoopMax + 1 }, (_, i) => 200 + i);
  const delegates = (await Promise.all(seeds.map(identity))).map((p) => p.did).sort();
  const crowded = { ...genesis, coops: [{ ...genesis.coops[0], delegates }, genesis.coops[1]] };
  throws(() => validateFederationGenesis(crowded), /delegates must hold 1 to 16 items/);
  const coopsList = Array.from({ length: foundersMax + 1 }, () => genesis.coops[0]);
  throws(
    () => validateFederationGenesis({ ...genesis, coops: coopsList }),
    /coops must hold 1 to 64 items/,
  );
});
