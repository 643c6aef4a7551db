/**
 * What the fuzzer feeds: every decoder of input that crosses a trust
 * boundary, and every CLI file input through its real handler against a
 * store. Each target has valid samples (built deterministically here) and
 * runs one input; it may throw only an `IcnError` (a typed refusal, exit 1
 * in the CLI), and the store must be unchanged afterwards.
 */
import * as age from "age-encryption";
import * as dagCbor from "@ipld/dag-cbor";
import { toBase64, utf8Encode } from "../core/bytes.ts";
import { encodeBundle } from "../core/chain/bundle.ts";
import { ingest, type IngestDeps } from "../core/chain/ingest.ts";
import { type ChainHead, chainKeys } from "../core/chain/keys.ts";
import { kelNet } from "../core/constants.ts";
import { RejectedError } from "../core/errors.ts";
import { rulesFor } from "../core/governance/view.ts";
import {
  contentId,
  decodeEnvelopeSync,
  type SealedEnvelope,
  sealEnvelope,
} from "../core/envelope/envelope.ts";
import {
  addGenesisSignature,
  genesisId,
  genesisSigningBytes,
  serializeGenesisFile,
} from "../core/governance/genesis.ts";
import { accept, generation, TestIdentity } from "../core/identity/_kel_fixture.ts";
import { didFromPublicKey } from "../core/identity/did.ts";
import { identityKey, type IdentityRecord, nextKeysDigest } from "../core/identity/kel.ts";
import { ed25519FromSeed, signEd25519, x25519FromSeed } from "../core/identity/keys.ts";
import {
  minisignPublicKey,
  minisignSign,
  minisignVerify,
  parseMinisignPublicKey,
  parseMinisignSignature,
} from "../core/identity/minisign.ts";
import {
  createAttestation,
  createRecoveryRequest,
  decodeAttestation,
  decodeRecoveryRequest,
  requestDigest,
  verifyAttestation,
} from "../core/identity/recovery.ts";
import { createSigner } from "../core/identity/signer.ts";
import { fixedClock, type Logger, seededRng, silentLogger } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import { testNetwork } from "../core/testing.ts";
import { decodeUtf8Strict } from "../core/strict.ts";
import { importBundle } from "../cli/bundle.ts";
import { CliContext } from "../cli/context.ts";
import { join, showGenesis } from "../cli/genesis.ts";
import { verifyBackup } from "../cli/id_backup.ts";
import { renderConfig, resolveConfig } from "../net/config.ts";
import {
  controlError,
  decodeConnectRequest,
  decodeSubmitReply,
  decodeSubmitRequest,
  encodeSubmitReply,
  encodeSubmitRequest,
  readControlReply,
} from "../net/control.ts";
import {
  decodeHeadsResponse,
  decodeHello,
  decodeRangeResponse,
  decodeSyncRequest,
  signHello,
  verifyHello,
} from "../net/protocol.ts";
import type { InputFormat } from "./_fuzz_mutate.ts";

export interface FuzzTarget {
  name: string;
  /** The boundary it stands for, for the report. */
  what: string;
  format: InputFormat;
  samples: Uint8Array[];
  /** Runs one input; resolves, or throws (only an IcnError is a refusal). */
  run(input: Uint8Array): Promise<unknown>;
  /** Store whose state must not change (checked before and after every input). */
  store?: Store;
  /** Time one input may take (ms) beyond the run's default, for targets doing scrypt. */
  inputMsMax?: number;
  /** Share of a fixed-count run's inputs (slow targets get fewer; default 1). */
  inputsScale?: number;
  /** Share of inputs mutated as decoded values rather than bytes (default 0.35). */
  structuredShare?: number;
}

const now = 1_700_000_100_000;
const passphrase = "fuzz passphrase";
/** scrypt work of the backups the fuzzer writes (the smallest icn allows). */
const fuzzScryptLogN = 10;

/** A CLI context over an in-memory store, a fixed clock and a fixed passphrase. */
class FuzzContext extends CliContext {
  override readonly clock = fixedClock(now);
  override readonly logger: Logger = silentLogger;
  readonly #store: Store;
  constructor(dataDir: string, store: Store) {
    super({ dataDir, json: true, debug: false, color: false });
    this.#store = store;
  }
  override store(): Promise<Store> {
    return Promise.resolve(this.#store);
  }
  override async ingestDeps(): Promise<IngestDeps> {
    return { ...(await super.ingestDeps()), logger: silentLogger };
  }
  override passphrase(): Promise<string> {
    return Promise.resolve(passphrase);
  }
}

async function ageEncrypt(text: string): Promise<Uint8Array> {
  const encrypter = new age.Encrypter();
  encrypter.setPassphrase(passphrase);
  encrypter.setScryptWorkFactor(fuzzScryptLogN);
  return await encrypter.encrypt(text);
}

/** Builds every target with its samples; `dir` is a scratch directory for file inputs. */
export async function buildTargets(dir: string): Promise<FuzzTarget[]> {
  // The keystore re-check of a backup encrypts its secrets: cheap scrypt in this process.
  Deno.env.set("ICN_SCRYPT_LOG_N", String(fuzzScryptLogN));
  const { deps, net, genesis, members } = await testNetwork(3, { now });
  const store = deps.store;
  const ctx = new FuzzContext(dir, store);
  const inputPath = `${dir}/input`;
  const writeInput = (bytes: Uint8Array) => Deno.writeFile(inputPath, bytes);

  // Recovery: alice names bob and carol trustees; her new keys sign a request they attest.
  const [alice, bob, carol] = [11, 12, 13].map((s) => new TestIdentity(seededRng(s), false));
  for (const who of [alice, bob, carol]) await accept(store, await who.incept(now - 500), now);
  const setup = await alice.event("id.recovery-setup", {
    trustees: [bob.did, carol.did],
    threshold: 2,
    delayMs: 86_400_000,
  }, now - 400);
  await accept(store, setup, now);
  const fresh = await generation(seededRng(99), false);
  const after = await generation(seededRng(98), false);
  const freshSigner = createSigner(alice.did, fresh.ed25519);
  const request = await createRecoveryRequest({
    did: alice.did,
    keys: fresh.keys,
    next: await nextKeysDigest(after.keys),
    created: now - 300,
    expires: now + 86_400_000,
  }, (m) => freshSigner.sign(m));
  const digest = await requestDigest(request);
  const attestations = await Promise.all([bob, carol].map((who) =>
    createAttestation(
      { did: alice.did, request: digest, trustee: who.did, ts: now - 200, expires: now + 3600_000 },
      (m) => who.signer().sign(m),
    )
  ));
  const trustees = new Map<string, IdentityRecord>();
  for (const who of [bob, carol]) {
    trustees.set(who.did, (await store.get<IdentityRecord>(identityKey(who.did)))!.value);
  }

  const stored: SealedEnvelope[] = [...members.map((m) => m.inception), ...alice.log, ...bob.log];
  const envelopes = stored.map((s) => s.bytes);
  const bundle = await encodeBundle(
    { v: 1, net, count: envelopes.length, since: 0, next: envelopes.length, created: now },
    envelopes,
  );

  let file = { id: net, genesis, signatures: [] as { did: string; sig: string }[] };
  for (const member of members) {
    const sig = await signEd25519(member.ed25519, genesisSigningBytes(genesis));
    file = addGenesisSignature(file, member.did, sig);
  }
  if ((await genesisId(genesis)) !== net) throw new Error("fuzz fixture: genesis id mismatch");
  const genesisText = utf8Encode(serializeGenesisFile(file));
  const unsignedText = utf8Encode(serializeGenesisFile({ ...file, signatures: [] }));

  // A backup whose secrets match the KEL it carries (verifyBackup succeeds on it).
  const seed = (n: number) => new Uint8Array(32).fill(n);
  const current = {
    ed25519: await ed25519FromSeed(seed(1)),
    x25519: await x25519FromSeed(seed(2)),
  };
  const next = { ed25519: await ed25519FromSeed(seed(3)), x25519: await x25519FromSeed(seed(4)) };
  const backupDid = didFromPublicKey(current.ed25519.publicKey);
  const keys = { ed25519: current.ed25519.publicKey, x25519: current.x25519.publicKey };
  const inception = await sealEnvelope({
    net: kelNet,
    kind: "id.inception",
    seq: 0,
    prev: null,
    ts: now - 1000,
    body: {
      keys,
      next: await nextKeysDigest({
        ed25519: next.ed25519.publicKey,
        x25519: next.x25519.publicKey,
      }),
    },
  }, createSigner(backupDid, current.ed25519));
  const archive = {
    format: "icn-identity-backup",
    v: 1,
    did: backupDid,
    created: now,
    secrets: {
      v: 1,
      did: backupDid,
      created: now,
      ed25519: toBase64(seed(1)),
      x25519: toBase64(seed(2)),
      next: { ed25519: toBase64(seed(3)), x25519: toBase64(seed(4)) },
    },
    identity: {
      did: backupDid,
      created: now,
      keys: { ed25519: "z", x25519: "z" },
      pq: false,
      kelSeq: 0,
    },
    kel: [toBase64(inception.bytes)],
  };
  const archiveText = utf8Encode(JSON.stringify(archive));
  const backupFile = await ageEncrypt(JSON.stringify(archive));

  const signer = members[0];
  const hello = await signHello({
    did: signer.did,
    net,
    version: "1.0.0",
    from: "12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8",
    to: "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo",
    ts: now,
  }, signer.ed25519);

  const signedData = utf8Encode("release.tar.gz contents\n");
  const minisig = await minisignSign(signedData, {
    publicKey: signer.ed25519.publicKey,
    sign: (m) => signEd25519(signer.ed25519, m),
    trustedComment: `timestamp:${now}\tfile:release.tar.gz`,
  });
  const publicKeyText = minisignPublicKey(signer.ed25519.publicKey);

  const submit = encodeSubmitRequest({
    kind: "trust.edge",
    body: { to: members[1].did, score: 0.5 },
  });
  const reply = encodeSubmitReply(stored[0], {
    status: "rejected",
    reason: "duplicate",
    message: "Already known",
    cid: stored[0].cid,
    envelope: stored[0].envelope,
  });
  const json = (value: unknown) => utf8Encode(JSON.stringify(value));

  // Signed envelopes of every kind with mutated bodies, in a store of their own: the body
  // rules run on anything a member could sign (an accepted one may change that store).
  const signedNet = await testNetwork(3, { now });
  const author = signedNet.members[0];
  const sealAt = async (kind: string, body: unknown) => {
    const net = kind.startsWith("id.") ? kelNet : signedNet.net;
    const head = (await signedNet.deps.store.get<ChainHead>(chainKeys.head(net, author.did)))
      ?.value;
    return await sealEnvelope({
      net,
      kind,
      seq: head ? head.seq + 1 : 0,
      prev: head?.cid ?? null,
      ts: now,
      body,
    }, author.signer);
  };
  const proposal = await sealAt("gov.proposal", {
    kind: "text",
    title: "A text proposal",
    body: "",
    action: {},
    rules: rulesFor(signedNet.genesis.params, "text"),
  });
  await ingest({ ...signedNet.deps, logger: silentLogger }, [proposal], { source: "local" });
  const [, other, third] = signedNet.members;
  const signedSamples = [
    {
      kind: "trust.edge",
      body: { to: other.did, score: 0.5, graph: "social", label: "neighbour" },
    },
    {
      kind: "ledger.transfer",
      body: { to: other.did, amount: 100, currency: "hours", memo: "bread", id: "t-1" },
    },
    { kind: "gov.proposal", body: proposal.envelope.body },
    { kind: "gov.vote", body: { proposal: proposal.cid, choice: "for" } },
    { kind: "gov.delegate", body: { to: other.did, scope: "all" } },
    { kind: "gov.undelegate", body: { scope: "all" } },
    { kind: "gov.cancel", body: { proposal: proposal.cid } },
    {
      kind: "id.recovery-setup",
      body: { trustees: [other.did, third.did], threshold: 1, delayMs: 60_000 },
    },
  ].map((sample) => dagCbor.encode(sample));

  const text = (bytes: Uint8Array, what: string) =>
    decodeUtf8Strict(bytes, { what, bytesMax: 1024 * 1024 });

  const targets: FuzzTarget[] = [
    {
      name: "envelope",
      what: "envelope bytes (gossip, sync, import)",
      format: "cbor",
      samples: envelopes,
      run: (input) => Promise.resolve(decodeEnvelopeSync(input)),
    },
    {
      name: "ingest",
      inputsScale: 0.5,
      what: "an envelope gossiped by a peer, through ingest",
      format: "cbor",
      samples: envelopes,
      store,
      run: (input) => ingest({ ...deps, logger: silentLogger }, [input], { source: "gossip" }),
    },
    {
      name: "signed-body",
      what: "envelopes of every kind a member signs, with mutated kinds and bodies, through ingest",
      format: "cbor",
      samples: signedSamples,
      inputsScale: 0.5,
      // Bytes that do not decode never reach a kind's rules: mutate mostly the decoded value.
      structuredShare: 0.85,
      run: async (input) => {
        let kind: unknown;
        let body: unknown;
        try {
          ({ kind, body } = dagCbor.decode(input) as { kind: unknown; body: unknown });
        } catch {
          return null;
        }
        let sealed: SealedEnvelope;
        try {
          sealed = await sealAt(String(kind), body === undefined ? null : body);
        } catch (error) {
          // Sealing refuses what no envelope may hold (a malformed kind): a typed refusal.
          if (error instanceof RejectedError) return null;
          throw error;
        }
        return await ingest({ ...signedNet.deps, logger: silentLogger }, [sealed], {
          source: "local",
        });
      },
    },
    {
      name: "hello",
      what: "the signed hello of a peer",
      format: "cbor",
      samples: [dagCbor.encode(hello)],
      run: async (input) => {
        const decoded = decodeHello(input);
        return await verifyHello(decoded, signer.ed25519.publicKey);
      },
    },
    {
      name: "sync-request",
      what: "a peer's sync request",
      format: "cbor",
      samples: [
        dagCbor.encode({ t: "heads" }),
        dagCbor.encode({ t: "range", net: kelNet, author: alice.did, from: 0, limit: 100 }),
      ],
      run: (input) => Promise.resolve(decodeSyncRequest(input)),
    },
    {
      name: "heads-response",
      what: "a peer's heads response",
      format: "cbor",
      samples: [
        dagCbor.encode({
          heads: stored.map((s) => [s.envelope.net, s.envelope.author, s.envelope.seq]),
        }),
      ],
      run: (input) => Promise.resolve(decodeHeadsResponse(input)),
    },
    {
      name: "range-response",
      inputsScale: 0.5,
      what: "a peer's range response, its envelopes through ingest",
      format: "cbor",
      samples: [
        dagCbor.encode({ envs: envelopes.slice(0, 3) }),
        dagCbor.encode({ envs: alice.log.map((s) => s.bytes) }),
      ],
      store,
      run: async (input) => {
        const { envs } = decodeRangeResponse(input);
        return await ingest({ ...deps, logger: silentLogger }, envs, { source: "sync" });
      },
    },
    {
      name: "control-submit",
      what: "a control API submit body",
      format: "json",
      samples: [json(submit)],
      run: (input) => Promise.resolve(decodeSubmitRequest(input)),
    },
    {
      name: "control-connect",
      what: "a control API connect body",
      format: "json",
      samples: [
        json({
          addr: "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8",
        }),
      ],
      run: (input) => Promise.resolve(decodeConnectRequest(input)),
    },
    {
      name: "control-reply",
      what: "the node's reply to the CLI's submit",
      format: "json",
      samples: [json(reply)],
      run: async (input) => {
        // As the CLI reads it: bounded, parsed, then the error or the reply decoded strictly.
        const value = await readControlReply(new Response(input.slice()));
        controlError(value);
        return await decodeSubmitReply(value);
      },
    },
    {
      name: "bundle-content",
      inputsScale: 0.5,
      what: "icn node import FILE of a well-formed CAR (mutated manifest and blocks, valid CIDs)",
      format: "cbor",
      samples: [dagCbor.encode({
        manifest: {
          v: 1,
          net,
          count: envelopes.length,
          since: 0,
          next: envelopes.length,
          created: now,
        },
        envs: envelopes,
      })],
      store,
      run: async (input) => {
        // The CAR is rebuilt around the mutated parts, so they get past the CID checks.
        let car: Uint8Array;
        try {
          const { manifest, envs } = dagCbor.decode(input) as {
            manifest: never;
            envs: Uint8Array[];
          };
          if (!Array.isArray(envs) || !envs.every((e) => e instanceof Uint8Array)) return null;
          car = await encodeBundle(manifest, envs);
        } catch {
          return null;
        }
        await writeInput(car);
        // A command's context chooses its network once (useNetwork), so each input gets its own.
        return await importBundle(new FuzzContext(dir, store), [inputPath], {});
      },
    },
    {
      name: "bundle",
      inputsScale: 0.5,
      what: "icn node import FILE",
      format: "bytes",
      samples: [bundle],
      store,
      run: async (input) => {
        await writeInput(input);
        // A command's context chooses its network once (useNetwork), so each input gets its own.
        return await importBundle(new FuzzContext(dir, store), [inputPath], {});
      },
    },
    {
      name: "genesis-content",
      inputsScale: 0.5,
      what: "icn governance join and genesis show of a genesis whose file id matches its content",
      format: "json",
      samples: [utf8Encode(JSON.stringify(genesis))],
      store,
      run: async (input) => {
        // The file id is computed, so mutations of the document get past the id check.
        let value: unknown;
        let id = "";
        try {
          value = JSON.parse(new TextDecoder().decode(input));
          id = await contentId(dagCbor.encode(value));
        } catch {
          return null;
        }
        await writeInput(utf8Encode(JSON.stringify({ id, genesis: value, signatures: [] })));
        await showGenesis(ctx, [inputPath]);
        return await join(ctx, [inputPath]);
      },
    },
    {
      name: "genesis",
      inputsScale: 0.5,
      what: "icn governance join FILE and genesis show FILE",
      format: "json",
      samples: [genesisText, unsignedText],
      store,
      run: async (input) => {
        await writeInput(input);
        await showGenesis(ctx, [inputPath]);
        return await join(ctx, [inputPath]);
      },
    },
    {
      name: "backup",
      inputsScale: 0.1,
      what: "icn id backup verify FILE (mutated contents, encrypted)",
      format: "json",
      samples: [archiveText],
      inputMsMax: 30_000,
      run: async (input) => {
        await writeInput(await ageEncrypt(new TextDecoder().decode(input)));
        return await verifyBackup(ctx, [inputPath]);
      },
    },
    {
      name: "backup-age",
      inputsScale: 0.25,
      what: "icn id backup verify FILE (mutated age file)",
      format: "bytes",
      samples: [backupFile],
      inputMsMax: 30_000,
      run: async (input) => {
        await writeInput(input);
        return await verifyBackup(ctx, [inputPath]);
      },
    },
    {
      name: "recovery-request",
      what: "icn id recovery attest FILE (request)",
      format: "cbor",
      samples: [request],
      run: (input) => decodeRecoveryRequest(input),
    },
    {
      name: "recovery-attestation",
      what: "icn id recovery start FILE... (attestations), checked against the trustee's KEL",
      format: "cbor",
      samples: attestations,
      run: async (input) => {
        const decoded = decodeAttestation(input);
        const trustee = trustees.get(decoded.trustee);
        if (trustee) await verifyAttestation(decoded, trustee);
        return decoded;
      },
    },
    {
      name: "recovery-start",
      inputsScale: 0.5,
      what: "an id.recovery-start envelope carrying the file, through ingest",
      format: "cbor",
      samples: [request, ...attestations],
      store,
      run: async (input) => {
        // The input replaces the request or one attestation; the envelope is validly signed.
        const isRequest = input.length > 0 && (input[input.length - 1] & 1) === 0;
        const body = isRequest
          ? { request: input, attestations }
          : { request, attestations: [input, attestations[1]] };
        if (
          isRequest && input.every((b, i) => b === request[i]) && input.length === request.length
        ) {
          return null; // The valid start itself would be accepted: not a mutation.
        }
        if (
          !isRequest && input.length === attestations[0].length &&
          input.every((b, i) => b === attestations[0][i])
        ) {
          return null;
        }
        const saved = alice.save();
        const sealed = await alice.event("id.recovery-start", body, now, { signer: freshSigner });
        alice.load(saved);
        return await ingest({ ...deps, logger: silentLogger }, [sealed], { source: "gossip" });
      },
    },
    {
      name: "minisign-signature",
      what: "icn id verify FILE --sig SIG (signature file)",
      format: "text",
      samples: [utf8Encode(minisig)],
      run: async (input) => {
        const parsed = parseMinisignSignature(text(input, "signature"));
        return await minisignVerify(signedData, parsed, parseMinisignPublicKey(publicKeyText));
      },
    },
    {
      name: "minisign-pubkey",
      what: "icn id verify FILE --pubkey KEY (public key file)",
      format: "text",
      samples: [utf8Encode(publicKeyText)],
      run: async (input) => {
        const key = parseMinisignPublicKey(text(input, "public key"));
        return await minisignVerify(signedData, parseMinisignSignature(minisig), key);
      },
    },
    {
      name: "config",
      what: "the node's config.toml",
      format: "text",
      samples: [
        utf8Encode(renderConfig("server")),
        utf8Encode(renderConfig("lan")),
        utf8Encode(
          '[node]\nprofile = "test"\nlisten = ["/ip4/127.0.0.1/tcp/0"]\n[limits]\npeer_rate = 5\n',
        ),
      ],
      run: (input) => Promise.resolve(resolveConfig(text(input, "config"), { env: {}, flags: {} })),
    },
  ];
  return targets;
}
