/**
 * Everything a command handler needs from the outside world: the data dir
 * and its files, the store, the clock, randomness, the passphrase, the
 * unlocked identity. Real implementations of core's ports live here.
 */
import { envGet, stdinIsTerminal, writeStderrBytes } from "./io_scope.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import type { IngestDeps, IngestOutcome } from "../core/chain/ingest.ts";
import { chainKeys } from "../core/chain/keys.ts";
import { kelNet } from "../core/constants.ts";
import {
  assert,
  IcnError,
  InvalidInputError,
  KeystoreError,
  NotFoundError,
  RejectedError,
} from "../core/errors.ts";
import { parseJsonStrict } from "../core/strict_shapes.ts";
import type { Envelope, SealedEnvelope, Signer } from "../core/envelope/envelope.ts";
import type { Ed25519KeyPair, MlDsa65KeyPair } from "../core/identity/keys.ts";
import { readNetworkKind } from "../core/governance/join.ts";
import type { Clock, Logger, Rng } from "../core/ports.ts";
import type { Store } from "../core/store/store.ts";
import type { Genesis } from "../core/governance/genesis.ts";
import { type KeystoreSecrets, readKeystoreFile, seedFromBase64 } from "./keystore.ts";
import { systemClock } from "./clock.ts";
import { pathExists, readInputFile, readInputText } from "./files.ts";
import { createStderrLogger } from "./output.ts";
import type { JoinedNetwork, OpenNetwork } from "./networks.ts";
import { openStore, type StoreLocation, storeLocation } from "./store_open.ts";
import {
  type PublicIdentity,
  publicIdentityBytesMax,
  publicIdentityShape,
} from "./public_identity.ts";

export interface SubmitResult {
  cid: string;
  envelope: Envelope;
  outcome: IngestOutcome;
}

export interface GlobalOptions {
  dataDir: string;
  json: boolean;
  debug: boolean;
  color: boolean;
  passphraseFile?: string;
}

export { systemClock };
export const systemRng: Rng = { bytes: (n) => crypto.getRandomValues(new Uint8Array(n)) };

export interface UnlockedIdentity {
  secrets: KeystoreSecrets;
  did: string;
  ed25519: Ed25519KeyPair;
  mlDsa65?: MlDsa65KeyPair;
  signer: Signer;
  passphrase: string;
}

/** What signing needs: no secrets, no passphrase (the unlock agent may hold the keys). */
export interface SigningIdentity {
  did: string;
  signer: Signer;
  /** Where the keys are: the unlock agent, or the keystore opened with the passphrase. */
  via: "agent" | "passphrase";
}

/** Default data dir: `ICN_HOME`, else `~/.icn`. */
export function defaultDataDir(): string {
  const fromEnv = envGet("ICN_HOME");
  if (fromEnv) return fromEnv;
  const home = envGet("HOME") ?? envGet("USERPROFILE");
  if (!home) throw new InvalidInputError("Cannot find a data dir: set ICN_HOME or --data-dir");
  return `${home}/.icn`;
}

/** A passphrase file holds one line; anything larger is not one. */
const passphraseFileBytesMax = 4096;

export class CliContext {
  readonly options: GlobalOptions;
  /** The command tree this run was parsed with (`icn completions` describes it). */
  readonly commands: CommandUnknownOpts | undefined;
  readonly clock: Clock = systemClock;
  readonly rng: Rng = systemRng;
  readonly logger: Logger;
  #store: Store | undefined;
  /** Stores of networks other than the home store's, opened during this command, by id. */
  #networkStores = new Map<string, Store>();
  /** Set for a network-scoped command: what `--net` named (undefined: the default network). */
  #scope: { selection: string | undefined } | undefined;
  /** The scoped command's network once resolved; null when the data dir joined none. */
  #chosen: JoinedNetwork | null | undefined;
  /** `#chosen` with its store open. */
  #selected: OpenNetwork | undefined;

  constructor(options: GlobalOptions, commands?: CommandUnknownOpts) {
    this.options = options;
    this.commands = commands;
    this.logger = createStderrLogger({ format: "text", level: options.debug ? "debug" : "warn" });
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  path(name: string): string {
    return `${this.options.dataDir}/${name}`;
  }

  get keystorePath(): string {
    return this.path("identity.age");
  }

  get publicIdentityPath(): string {
    return this.path("identity.json");
  }

  /** Creates the data dir (0700) if missing; fails clearly if it is not usable. */
  async ensureDataDir(): Promise<void> {
    try {
      const info = await Deno.stat(this.dataDir);
      if (!info.isDirectory) {
        throw new InvalidInputError(`Data dir ${this.dataDir} exists but is not a directory`);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        if (error instanceof IcnError) throw error;
        throw new InvalidInputError(
          `Cannot use data dir ${this.dataDir}: ${(error as Error).message}`,
        );
      }
      await Deno.mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    }
    try {
      for await (const _ of Deno.readDir(this.dataDir)) break;
    } catch (error) {
      throw new InvalidInputError(
        `Cannot read data dir ${this.dataDir}: ${(error as Error).message}`,
      );
    }
  }

  /**
   * Opens the home store (`$ICN_HOME/icn.kv`, or `ICN_KV_URL` for a remote KV): the identity's
   * key event log and the first network joined (cli/networks.ts). It never creates the data
   * dir: only the commands that make one (`id init`, `id restore`, recovery, `node init`) call
   * `ensureDataDir`, so a mistyped `--data-dir` is an error, not a new dir.
   */
  async homeStore(): Promise<Store> {
    if (this.#store) return this.#store;
    const location = this.storeLocation;
    if (!location.remote && !(await pathExists(this.dataDir))) {
      throw new NotFoundError(
        `No data dir at ${this.dataDir}: run \`icn id init\` to create one, or check --data-dir / ICN_HOME`,
      );
    }
    if (!location.remote) await this.ensureDataDir();
    try {
      this.#store = await openStore(location.path, this.logger);
    } catch (error) {
      if (error instanceof IcnError) throw error;
      throw new InvalidInputError(
        `Cannot open the store in ${this.dataDir}: ${(error as Error).message}`,
      );
    }
    return this.#store;
  }

  /**
   * The store this command works on: for a network-scoped command (one that takes `--net`,
   * `useNetwork`), the chosen network's store; for any other, the home store.
   */
  async store(): Promise<Store> {
    return (await this.selected())?.store ?? await this.homeStore();
  }

  /**
   * Makes this command network-scoped: `store()`, `network()`, `ingestDeps()` and `submit()`
   * work on the network `selection` names (`--net`), else the default one (cli/networks.ts).
   * Called by the runner for every command that declares `--net`, before the handler runs; a
   * handler may call it again before it first opens a store (`node import` picks the bundle's).
   */
  useNetwork(selection: string | undefined): void {
    assert(this.#chosen === undefined, "useNetwork() after the network was chosen");
    this.#scope = { selection };
  }

  /** Whether this command took `--net` (or was scoped by `useNetwork`) and what it named. */
  get networkScope(): { selection: string | undefined } | undefined {
    return this.#scope;
  }

  /**
   * The network this command works on, as the home store lists it, without opening its store;
   * undefined when the command is not network-scoped or the data dir joined none.
   */
  async chosenNetwork(): Promise<JoinedNetwork | undefined> {
    if (!this.#scope) return undefined;
    if (this.#chosen === undefined) {
      const { resolveNetwork } = await import("./networks.ts");
      this.#chosen = (await resolveNetwork(this, this.#scope.selection)) ?? null;
    }
    return this.#chosen ?? undefined;
  }

  /** `chosenNetwork()`, its store opened. */
  async selected(): Promise<OpenNetwork | undefined> {
    const chosen = await this.chosenNetwork();
    if (!chosen) return undefined;
    if (!this.#selected) {
      const { openNetwork } = await import("./networks.ts");
      this.#selected = await openNetwork(this, chosen);
    }
    return this.#selected;
  }

  /** A network store opened during this command (cli/networks.ts keeps them here). */
  keptStore(id: string): Store | undefined {
    return this.#networkStores.get(id);
  }

  /** Keeps a network store open for the rest of the command; `close()` closes it. */
  keepStore(id: string, store: Store): void {
    assert(!this.#networkStores.has(id), `Network store ${id} opened twice`);
    this.#networkStores.set(id, store);
  }

  /** Where this data dir's store is (`ICN_KV_URL`, else `icn.kv` in the data dir). */
  get storeLocation(): StoreLocation {
    return storeLocation(this.dataDir);
  }

  /**
   * Whether there is a store to open: a remote one always counts. Lets a command read a store
   * only if one exists, since `store()` creates `icn.kv` in the data dir.
   */
  async storeExists(): Promise<boolean> {
    const location = this.storeLocation;
    return location.remote || await pathExists(location.path);
  }

  /** What ingesting into `store()` needs: that store, and the kinds its network accepts. */
  async ingestDeps(): Promise<IngestDeps> {
    const selected = await this.selected();
    // Every kind's rules (governance, federation, clearing, ...) load only when a command ingests.
    const { kindRegistryFor } = await import("../core/kinds.ts");
    return {
      store: selected?.store ?? await this.homeStore(),
      clock: this.clock,
      kinds: selected
        ? await selected.kinds()
        : kindRegistryFor(await readNetworkKind(await this.homeStore())),
      logger: this.logger,
    };
  }

  /**
   * The cooperative this command works on (`store()`'s network), or a clear error; with
   * `selection`, the joined network it names (`--net` syntax) instead.
   */
  async network(selection?: string): Promise<{ id: string; genesis: Genesis; store: Store }> {
    let store: Store;
    if (selection !== undefined) {
      const { findNetwork, joinedNetworks, openNetwork } = await import("./networks.ts");
      store = (await openNetwork(this, findNetwork(await joinedNetworks(this), selection))).store;
    } else {
      store = await this.store();
    }
    const id = (await store.get<string>(chainKeys.network))?.value;
    if (!id) {
      throw new NotFoundError(
        "This data dir has not joined a cooperative: run `icn governance join GENESIS_FILE` first",
      );
    }
    if ((await readNetworkKind(store)) === "federation") {
      throw new InvalidInputError(
        `Network ${id} is a federation, not a cooperative: use \`icn federation\` commands for it, or --net to choose a cooperative`,
      );
    }
    const genesis = (await store.get<Genesis>(chainKeys.genesis(id)))?.value;
    if (!genesis) throw new NotFoundError(`Genesis of network ${id} is missing from the store`);
    return { id, genesis, store };
  }

  /**
   * The public identity beside the keystore, parsed as strictly as network input: a damaged
   * file (`null`, `[]`, wrong types) is reported with its path and the fix, never a crash.
   */
  async readPublicIdentity(): Promise<PublicIdentity> {
    if (!(await pathExists(this.publicIdentityPath))) {
      throw new NotFoundError(`No identity in ${this.dataDir}: run \`icn id init\` first`);
    }
    const path = this.publicIdentityPath;
    const fix = "restore it from a backup (`icn id restore FILE`) or run `icn doctor`";
    const bytes = await readInputFile(path, "public identity", {
      bytesMax: publicIdentityBytesMax,
    });
    return parseJsonStrict(bytes, publicIdentityShape, {
      what: `public identity ${path}`,
      bytesMax: publicIdentityBytesMax,
      refuse: (message) => new InvalidInputError(`${message} (the file is damaged: ${fix})`),
    });
  }

  /**
   * The passphrase: --passphrase-file, else ICN_PASSPHRASE, else a no-echo prompt on a terminal.
   * A flag beats the environment (even an empty ICN_PASSPHRASE).
   */
  async passphrase(
    prompt = "Passphrase: ",
    envName = "ICN_PASSPHRASE",
    fileOption?: string,
  ): Promise<string> {
    const file = fileOption ??
      (envName === "ICN_PASSPHRASE" ? this.options.passphraseFile : undefined);
    let passphrase: string | undefined = file ? undefined : envGet(envName);
    if (file) {
      // Bounded: /dev/zero or a mistyped large file is refused, not read until memory runs out.
      passphrase = (await readInputText(file, "passphrase file", {
        bytesMax: passphraseFileBytesMax,
      })).replace(/\r?\n$/, "");
    }
    if (passphrase === undefined) {
      if (!stdinIsTerminal()) {
        throw new KeystoreError(
          `No passphrase: set ${envName}, use --passphrase-file, or run on a terminal to be asked`,
        );
      }
      passphrase = await promptHidden(prompt);
    }
    if (passphrase.length === 0) {
      throw new KeystoreError(`Refusing an empty passphrase${file ? ` (from ${file})` : ""}`);
    }
    return passphrase;
  }

  /** Asks for a new passphrase twice on a terminal (once from env/file). */
  async newPassphrase(envName = "ICN_PASSPHRASE", fileOption?: string): Promise<string> {
    const first = await this.passphrase("New passphrase: ", envName, fileOption);
    if (
      envGet(envName) === undefined && !(fileOption ?? this.options.passphraseFile) &&
      stdinIsTerminal()
    ) {
      const again = await promptHidden("Repeat passphrase: ");
      if (again !== first) throw new KeystoreError("Passphrases do not match");
    }
    return first;
  }

  /**
   * Decrypts the keystore once (with the passphrase: the caller gets the secrets, to re-encrypt
   * or export them) and builds the signer. Commands that only sign use `unlockForSigning()`.
   */
  async unlock(): Promise<UnlockedIdentity> {
    await this.readPublicIdentity();
    const passphrase = await this.passphrase();
    const { withProgress } = await import("./agent_progress.ts");
    const secrets = await withProgress("Unlocking keystore", () => this.openKeystore(passphrase));
    // The signing code (Ed25519, ML-DSA, node:crypto) loads only when a command unlocks.
    const [{ ed25519FromSeed, mlDsa65FromSeed }, { createSigner }] = await Promise.all([
      import("../core/identity/keys.ts"),
      import("../core/identity/signer.ts"),
    ]);
    const ed25519 = await ed25519FromSeed(seedFromBase64(secrets.ed25519));
    const mlDsa65 = secrets.mlDsa65
      ? await mlDsa65FromSeed(seedFromBase64(secrets.mlDsa65))
      : undefined;
    return {
      secrets,
      did: secrets.did,
      ed25519,
      mlDsa65,
      signer: createSigner(secrets.did, ed25519, mlDsa65),
      passphrase,
    };
  }

  /**
   * The keystore's secrets, as unlocking uses them: decrypted, then, if a key change was cut
   * short (a pending key event), settled against the KEL in this context's store in one
   * explicit step, which may commit the event and rewrites the keystore and `identity.json`.
   */
  async openKeystore(passphrase: string): Promise<KeystoreSecrets> {
    const secrets = await readKeystoreFile(this.keystorePath, passphrase);
    if (!secrets.pending) return secrets;
    const { settlePending } = await import("./id_keystore_settle.ts");
    const settled = await settlePending(
      {
        // The key event log is the home store's (network stores catch up from it).
        store: await this.homeStore(),
        clock: this.clock,
        keystorePath: this.keystorePath,
        publicIdentityPath: this.publicIdentityPath,
      },
      secrets,
      passphrase,
    );
    // A network store this command already opened must know the settled keys before it is
    // written with them; the others catch up when opened.
    const { spreadOwnKel } = await import("./networks.ts");
    await spreadOwnKel(this);
    return settled;
  }

  /**
   * A signer for this identity: the unlock agent's (`icn id unlock`) when one runs for this data
   * dir with the keystore's current keys, no passphrase asked; else `unlock()`'s.
   */
  async unlockForSigning(): Promise<SigningIdentity> {
    const identity = await this.readPublicIdentity();
    const { agentSigner } = await import("./agent_client.ts");
    const viaAgent = await agentSigner(this, identity.did);
    if (viaAgent) return viaAgent;
    const unlocked = await this.unlock();
    return { did: unlocked.did, signer: unlocked.signer, via: "passphrase" };
  }

  /**
   * Signs and commits one envelope of this identity in the joined network.
   * While a node runs on this data dir (it writes `node.json`), the request
   * goes through the node's control API instead, so only the node writes.
   * Refused while the restore guard stands (`core/identity/catch_up.ts`).
   */
  async submit(request: { kind: string; body: unknown }): Promise<SubmitResult> {
    const { findRunningNode, submitViaNode } = await import("./node_client.ts");
    const node = await findRunningNode(this);
    if (node) {
      // The node serves every joined network; the request's `net` says which one it is for.
      const chosen = await this.chosenNetwork();
      const routed = chosen ? { ...request, net: chosen.id } : request;
      return await submitViaNode(this, node, routed);
    }
    const { id } = await this.network();
    // The restore guard: after `id restore` or a recovery, learn the chain head first.
    const { readCatchUp, catchUpRefusal } = await import("../core/identity/catch_up.ts");
    // The marker is the data dir's (restore and recovery write it in the home store).
    const marker = await readCatchUp(await this.homeStore(), (await this.readPublicIdentity()).did);
    if (marker) throw catchUpRefusal(marker, id, "cli");
    const unlocked = await this.unlockForSigning();
    const { appendLocal } = await import("../core/chain/append.ts");
    const { sealed, outcome } = await appendLocal(await this.ingestDeps(), unlocked.signer, {
      net: id,
      kind: request.kind,
      body: request.body,
    });
    return { cid: sealed.cid, envelope: sealed.envelope, outcome };
  }

  /**
   * `submit()`, and a rejection thrown as `RejectedError(reason, message)`: the one place a
   * command turns a refused envelope into exit code 1. A caller that handles a reason itself
   * (the ledger's `already_exists`) calls `submit()` and reads the outcome.
   */
  async submitOrThrow(request: { kind: string; body: unknown }): Promise<SubmitResult> {
    const result = await this.submit(request);
    throwIfRejected(result.outcome);
    return result;
  }

  /**
   * Signs with `signer` and commits one key event log (KEL) event to the home store, then to
   * every other network store (`spreadOwnKel`), throwing `RejectedError` when it is refused.
   *
   * KEL writes never go through a running node, unlike `submit()`: the node's control API signs
   * with the keys the node unlocked at start, on the network it joined, and a key event is
   * signed on the KEL, often by keys no node holds (a new identity's, the revealed next keys).
   * The events that replace keys (rotate, upgrade-pq) also change the keystore, so they take the
   * node lock and are refused while a node runs (`withoutRunningNode`, cli/id_lifecycle.ts): a
   * node still signing with the old keys would fail every later write. The rest write the store
   * directly, as a second writer the node tolerates (see `IngestDeps.cache`).
   */
  async appendKelOrThrow(
    signer: Signer,
    request: { kind: string; body: unknown },
  ): Promise<SealedEnvelope> {
    const { appendLocal } = await import("../core/chain/append.ts");
    const { kindRegistryFor } = await import("../core/kinds.ts");
    const home = await this.homeStore();
    const { sealed, outcome } = await appendLocal(
      {
        store: home,
        clock: this.clock,
        kinds: kindRegistryFor(await readNetworkKind(home)),
        logger: this.logger,
      },
      signer,
      { net: kelNet, kind: request.kind, body: request.body },
    );
    throwIfRejected(outcome);
    const { spreadOwnKel } = await import("./networks.ts");
    await spreadOwnKel(this);
    return sealed;
  }

  close(): void {
    for (const store of this.#networkStores.values()) store.close();
    this.#networkStores.clear();
    this.#chosen = undefined;
    this.#selected = undefined;
    this.#store?.close();
    this.#store = undefined;
  }
}

function throwIfRejected(outcome: IngestOutcome): void {
  if (outcome.status === "rejected") throw new RejectedError(outcome.reason, outcome.message);
}

/** Reads a line from the terminal without echoing it. */
async function promptHidden(prompt: string): Promise<string> {
  const encoder = new TextEncoder();
  writeStderrBytes(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(1);
  try {
    while (true) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      const byte = buffer[0];
      if (byte === 3) throw new KeystoreError("Cancelled");
      if (byte === 13 || byte === 10) break;
      if (byte === 127 || byte === 8) {
        bytes.pop();
        continue;
      }
      bytes.push(byte);
      if (bytes.length > 4096) throw new KeystoreError("Passphrase is too long");
    }
  } finally {
    Deno.stdin.setRaw(false);
    writeStderrBytes(encoder.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
