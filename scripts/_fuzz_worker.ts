/// <reference lib="deno.worker" />
/**
 * The fuzzer's worker: builds the targets, replays the corpus and the
 * samples, then feeds mutated and random inputs until the deadline, time
 * sliced between targets. It tells the main thread when each input begins
 * and ends, so a hang (which no code in this thread could notice) is caught
 * there, with the input.
 */
import { IcnError, shown } from "../core/errors.ts";
import { nextInput, Random } from "./_fuzz_mutate.ts";
import { toBase64, utf8Encode } from "../core/bytes.ts";
import { listAll, type Store } from "../core/store/store.ts";
import type { FuzzTarget } from "./_fuzz_targets.ts";

export interface WorkerRequest {
  seed: number;
  seconds: number;
  targets: string[];
  inputMsMax: number;
  rssBytesMax: number;
  /** Run exactly this many inputs per target (times its `inputsScale`) instead of time slices. */
  inputsPerTarget?: number;
  /** Module whose `buildTargets(dir)` gives the targets (the harness's own tests use others). */
  targetsModule?: string;
  corpus: { target: string; name: string; bytes: Uint8Array }[];
}

export type FindingKind = "exception" | "state" | "slow" | "memory" | "hang" | "crash";

export type WorkerMessage =
  | { type: "ready"; targets: string[]; setupMs: number }
  | { type: "begin"; target: string; input: Uint8Array; limitMs: number }
  | { type: "end" }
  | {
    type: "finding";
    target: string;
    kind: FindingKind;
    message: string;
    origin: string;
    input: Uint8Array;
  }
  | { type: "done"; stats: Record<string, TargetStats>; rssMaxBytes: number }
  | { type: "failed"; message: string; usage?: boolean };

export interface TargetStats {
  inputs: number;
  refused: number;
  accepted: number;
  totalMs: number;
  maxMs: number;
}

/** Time each target gets in turn. */
const sliceMs = 150;
/** How often (in inputs) the process's memory is measured. */
const memoryCheckEvery = 25;

function post(message: WorkerMessage): void {
  self.postMessage(message);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const frames = (error.stack ?? "").split("\n").slice(1, 4).map((l) => l.trim()).join(" | ");
    return `${error.name}: ${shown(error.message, 300)}${frames ? ` (${frames})` : ""}`;
  }
  return `non-Error thrown: ${shown(error, 200)}`;
}

/** A digest of every key and versionstamp in the store: any commit changes it. */
async function storeState(store: Store): Promise<string> {
  const entries = await listAll(store, { prefix: [] });
  const text = entries.map((e) => `${JSON.stringify(e.key)}@${e.versionstamp}`).join("\n");
  const digest = await crypto.subtle.digest("SHA-256", utf8Encode(text).slice());
  return toBase64(new Uint8Array(digest));
}

/** An ingest result that refused its envelopes (ingest reports rejections instead of throwing). */
function isRejection(result: unknown): boolean {
  return Array.isArray(result) && result.length > 0 &&
    result.every((o) => (o as { status?: unknown })?.status === "rejected");
}

/** A stable 32-bit number from a name, so each target has its own input stream per seed. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

async function fuzz(request: WorkerRequest): Promise<void> {
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "icn-fuzz-" });
  let rssMaxBytes = 0;
  try {
    const module = await import(request.targetsModule ?? "./_fuzz_targets.ts");
    const all: FuzzTarget[] = await module.buildTargets(dir);
    const unknown = request.targets.filter((name) => !all.some((t) => t.name === name));
    if (unknown.length > 0) {
      post({
        type: "failed",
        message: `Unknown target(s): ${unknown.join(", ")} (known: ${
          all.map((t) => t.name).join(", ")
        })`,
        usage: true,
      });
      return;
    }
    const targets = request.targets.length > 0
      ? all.filter((t) => request.targets.includes(t.name))
      : all;
    post({
      type: "ready",
      targets: targets.map((t) => t.name),
      setupMs: Math.round(performance.now() - started),
    });
    const stats: Record<string, TargetStats> = {};
    for (const t of targets) {
      stats[t.name] = { inputs: 0, refused: 0, accepted: 0, totalMs: 0, maxMs: 0 };
    }
    let stop = false;

    const runOne = async (target: FuzzTarget, input: Uint8Array, origin: string) => {
      const limitMs = target.inputMsMax ?? request.inputMsMax;
      post({ type: "begin", target: target.name, input, limitMs });
      const finding = (kind: FindingKind, message: string) =>
        post({ type: "finding", target: target.name, kind, message, origin, input });
      const before = target.store ? await storeState(target.store) : "";
      const begun = performance.now();
      const s = stats[target.name];
      try {
        const result = await target.run(input);
        if (isRejection(result)) s.refused++;
        else s.accepted++;
      } catch (error) {
        if (error instanceof IcnError) s.refused++;
        else finding("exception", describe(error));
      }
      const ms = performance.now() - begun;
      s.inputs++;
      s.totalMs += ms;
      s.maxMs = Math.max(s.maxMs, ms);
      if (ms > limitMs) finding("slow", `took ${Math.round(ms)} ms, the bound is ${limitMs} ms`);
      if (target.store && (await storeState(target.store)) !== before) {
        finding("state", "the store changed");
      }
      if (s.inputs % memoryCheckEvery === 0) {
        const rss = Deno.memoryUsage().rss;
        rssMaxBytes = Math.max(rssMaxBytes, rss);
        if (rss > request.rssBytesMax) {
          finding("memory", `resident memory ${rss} bytes, the bound is ${request.rssBytesMax}`);
          stop = true;
        }
      }
      post({ type: "end" });
    };

    // The corpus (earlier findings, kept as regression cases), then the valid samples.
    for (const entry of request.corpus) {
      const target = targets.find((t) => t.name === entry.target);
      if (target) await runOne(target, entry.bytes, `corpus ${entry.target}/${entry.name}`);
    }
    for (const target of targets) {
      for (const [i, sample] of target.samples.entries()) {
        await runOne(target, sample, `sample ${i}`);
      }
    }
    // Mutated and random inputs, each target's stream seeded by (seed, target name).
    const deadline = started + request.seconds * 1000;
    const streams = targets.map((t) => ({
      target: t,
      random: new Random(request.seed ^ nameHash(t.name)),
      index: 0,
    }));
    if (request.inputsPerTarget !== undefined) {
      for (const stream of streams) {
        const count = Math.round(request.inputsPerTarget * (stream.target.inputsScale ?? 1));
        while (!stop && stream.index < count && performance.now() < deadline) {
          const input = nextInput(
            stream.random,
            stream.target.samples,
            stream.target.format,
            stream.target.structuredShare,
          );
          await runOne(stream.target, input, `seed ${request.seed} input ${stream.index}`);
          stream.index++;
        }
      }
    }
    while (request.inputsPerTarget === undefined && !stop && performance.now() < deadline) {
      for (const stream of streams) {
        const sliceEnd = Math.min(deadline, performance.now() + sliceMs);
        do {
          const input = nextInput(
            stream.random,
            stream.target.samples,
            stream.target.format,
            stream.target.structuredShare,
          );
          await runOne(stream.target, input, `seed ${request.seed} input ${stream.index}`);
          stream.index++;
        } while (!stop && performance.now() < sliceEnd);
        if (stop || performance.now() >= deadline) break;
      }
    }
    post({ type: "done", stats, rssMaxBytes });
  } catch (error) {
    post({ type: "failed", message: describe(error) });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  fuzz(event.data).finally(() => self.close());
};
