import { deepStrictEqual as assertEquals, ok as assert, rejects, throws } from "node:assert";
import { toBase64 } from "../bytes.ts";
import { IcnError, InvalidInputError } from "../errors.ts";
import { signEd25519 } from "../identity/keys.ts";
import { numberParam } from "../params.ts";
import { testIdentity } from "../testing.ts";
import {
  addGenesisSignature,
  checkGenesisFile,
  createGenesis,
  type GenesisFile,
  genesisFileBytesMax,
  genesisId,
  genesisSigningBytes,
  serializeGenesisFile,
  validateGenesis,
} from "./genesis.ts";

async function signedFile(): Promise<GenesisFile> {
  const founder = await testIdentity(1);
  const genesis = createGenesis({ name: "Coop", members: [founder.did], created: 1 });
  const file: GenesisFile = { id: await genesisId(genesis), genesis, signatures: [] };
  const sig = await signEd25519(founder.ed25519, genesisSigningBytes(genesis));
  return addGenesisSignature(file, founder.did, sig);
}

async function refused(text: string | Uint8Array, pattern: RegExp): Promise<void> {
  await rejects(checkGenesisFile(text), (error: unknown) => {
    assert(error instanceof IcnError, `not an IcnError: ${error}`);
    assert(pattern.test(error.message), error.message);
    return true;
  });
}

Deno.test("checkGenesisFile() reads a signed genesis file", async () => {
  const file = await signedFile();
  const { check } = await checkGenesisFile(serializeGenesisFile(file));
  assertEquals(check.missing, []);
  assertEquals(check.signed, file.genesis.members);
});

Deno.test("validateGenesis() refuses a currency without a code (was accepted)", async () => {
  const { genesis } = await signedFile();
  const bad = { ...genesis, currencies: [{ decimals: 2, other: "x" }] };
  throws(() => validateGenesis(bad), InvalidInputError);
});

Deno.test("checkGenesisFile() refuses unknown fields in the file and its signatures (were accepted)", async () => {
  const file = await signedFile();
  await refused(JSON.stringify({ ...file, note: "x" }), /unexpected field "note"/);
  const signatures = [{ ...file.signatures[0], when: 1 }];
  await refused(JSON.stringify({ ...file, signatures }), /unexpected field "when"/);
});

Deno.test("checkGenesisFile() refuses a signature in a non-canonical base64 spelling (was accepted)", async () => {
  const file = await signedFile();
  const sig = file.signatures[0].sig;
  const spaced = [{ ...file.signatures[0], sig: `${sig.slice(0, 40)} ${sig.slice(40)}` }];
  await refused(JSON.stringify({ ...file, signatures: spaced }), /\$\.signatures\[0\]\.sig/);
  const unpadded = [{ ...file.signatures[0], sig: sig.replace(/=+$/, "") }];
  await refused(JSON.stringify({ ...file, signatures: unpadded }), /\$\.signatures\[0\]\.sig/);
});

Deno.test("checkGenesisFile() refuses a file over its size limit before parsing it", async () => {
  await refused(" ".repeat(genesisFileBytesMax + 1), /the limit is/);
  await refused(new Uint8Array([0x7b, 0xff, 0x7d]), /UTF-8/);
  await refused("[]", /must be a map/);
  await refused(JSON.stringify({ id: 1, genesis: {}, signatures: [] }), /\$\.id/);
  const file = await signedFile();
  await refused(
    JSON.stringify({
      ...file,
      genesis: { ...file.genesis, members: [toBase64(new Uint8Array(3))] },
    }),
    /not a valid DID/,
  );
});

Deno.test("validateGenesis() refuses a creation time no date can show (genesis show threw a RangeError)", async () => {
  const { genesis } = await signedFile();
  throws(() => validateGenesis({ ...genesis, created: 9e15 }), /\$\.created must be from 0/);
});

Deno.test("a genesis made before a parameter was added still validates, and the absent key means its default", async () => {
  const { genesis } = await signedFile();
  const params = { ...genesis.params };
  for (const key of Object.keys(params)) {
    if (key.startsWith("network.admissionPow.")) delete params[key];
  }
  const older = { ...genesis, params };
  validateGenesis(older);
  assertEquals(numberParam(older.params, "network.admissionPow.bits"), 0);
  // A key every genesis has always held is still required.
  const { "governance.text.quorum": _quorum, ...withoutQuorum } = genesis.params;
  throws(() => validateGenesis({ ...genesis, params: withoutQuorum }), /governance\.text\.quorum/);
});
