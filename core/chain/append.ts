import { commitRetriesMax, conflictBackoffMsMax } from "../constants.ts";
import { ConflictError } from "../errors.ts";
import { type SealedEnvelope, sealEnvelope, type Signer } from "../envelope/envelope.ts";
import { type ChainHead, chainKeys } from "./keys.ts";
import { ingest, type IngestDeps, type IngestOptions, type IngestOutcome } from "./ingest.ts";

export interface AppendRequest {
  net: string;
  kind: string;
  body: unknown;
}

export interface AppendResult {
  sealed: SealedEnvelope;
  outcome: IngestOutcome;
}

/**
 * Signs a new envelope at the head of the signer's chain and ingests it
 * through the one validation path. If another writer moved the chain on
 * meanwhile, re-reads the head and signs again (never a fork of our own).
 */
export async function appendLocal(
  deps: IngestDeps,
  signer: Signer,
  request: AppendRequest,
  options: Omit<IngestOptions, "source" | "atomicity"> = {},
): Promise<AppendResult> {
  for (let attempt = 0; attempt <= commitRetriesMax; attempt++) {
    const head = (await deps.store.get<ChainHead>(chainKeys.head(request.net, signer.did)))?.value;
    const sealed = await sealEnvelope({
      net: request.net,
      kind: request.kind,
      seq: head ? head.seq + 1 : 0,
      prev: head ? head.cid : null,
      ts: Math.max(deps.clock.now(), head?.ts ?? 0),
      body: request.body,
    }, signer);
    try {
      const [outcome] = await ingest(deps, [sealed], { ...options, source: "local" });
      return { sealed, outcome };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(conflictBackoffMsMax, 2 ** attempt))
      );
    }
  }
  throw new ConflictError(
    `Cannot append ${request.kind}: the chain kept moving under ${commitRetriesMax} attempts`,
  );
}
