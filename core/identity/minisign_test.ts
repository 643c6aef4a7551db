import { utf8Encode } from "../bytes.ts";
import { InvalidSignatureError } from "../errors.ts";
import { minisignVerify, parseMinisignPublicKey, parseMinisignSignature } from "./minisign.ts";

// Made by the real minisign 0.11 (`minisign -G -W`, `minisign -S -t "my comment"`,
// `minisign -S -l`) over the file "hello\n". Its key id is random, not derived from the key.
const publicKeyFile = `untrusted comment: minisign public key 5F2C9BB25D305D37
RWQ3XTBdspssXxz2Bv8c/mdA7kluazE47ffPPJS2Ut3Cqj4vxC0E59py
`;
const prehashed = `untrusted comment: signature from minisign secret key
RUQ3XTBdspssXxUJ3BML9K22aqvaFTpy5mlUz5wmTxbNm3G0HxYegOhKQgt4goCIKkIHeGsVHoEjLr97Kku+iACdIB8m+yIvmAI=
trusted comment: my comment
7D4doFV2XHx1/EGxlueWPbvhbR2BMAdyyYSia9p6PtfClAL6S5UPA1NXF0PBku4d4bZdkqA0Riz3mz27dhZ3Aw==
`;
const legacy = `untrusted comment: signature from minisign secret key
RWQ3XTBdspssX6TJqYFgcLnAJPPTiY1104T9hOeI7QJpoR2WzuaLkYP4zydSiCziCV1fOJY5OhP85Qr5YqXiEsjvB1EJUKhosQA=
trusted comment: timestamp:1796191139\tfile:f.txt
ic6WJxYA/caeJUNIFjNB/46rTakmE8szTOdeNTq/ixYj9eHb01Lgsm6AHN/iO1OAikqz0kMz3GP0izkJ0x1SBw==
`;
const file = utf8Encode("hello\n");

function assertEquals(actual: unknown, expected: unknown): void {
  if (actual !== expected) throw new Error(`expected ${String(expected)}, got ${String(actual)}`);
}

async function assertRejects(fn: () => Promise<unknown>, fragment: string): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof InvalidSignatureError)) throw error;
    if (!error.message.includes(fragment)) {
      throw new Error(`"${error.message}" lacks "${fragment}"`);
    }
    return;
  }
  throw new Error(`accepted; expected a rejection with "${fragment}"`);
}

Deno.test("minisignVerify() accepts a real minisign signature with the key id of the .pub file", async () => {
  const key = parseMinisignPublicKey(publicKeyFile);
  await minisignVerify(file, parseMinisignSignature(prehashed), key);
  assertEquals(parseMinisignSignature(prehashed).trustedComment, "my comment");
});

Deno.test("minisignVerify() accepts minisign's legacy (non-prehashed) signatures", async () => {
  const parsed = parseMinisignSignature(legacy);
  assertEquals(parsed.prehashed, false);
  await minisignVerify(file, parsed, parseMinisignPublicKey(publicKeyFile));
});

Deno.test("minisignVerify() rejects a real minisign signature over another file or key id", async () => {
  const key = parseMinisignPublicKey(publicKeyFile);
  await assertRejects(
    () => minisignVerify(utf8Encode("hello!\n"), parseMinisignSignature(prehashed), key),
    "does not match the file",
  );
  await assertRejects(
    () => minisignVerify(file, parseMinisignSignature(prehashed), key.publicKey),
    "different key",
  );
});
