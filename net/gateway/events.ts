/**
 * The event stream (`GET /api/v1/events`, server-sent events): envelopes as they commit, read
 * from the store's acceptance log so every event carries its log position as its id. A client
 * resumes with `Last-Event-ID` (or `?since=`): it is first served the log after that position
 * from the store, then live events. One reader tails the log for all clients (woken by the
 * node's accepted-envelope callback); each client holds at most `eventBufferMax` events, and a
 * client that falls further behind is dropped (an `event: dropped` then end of stream), never
 * allowed to grow memory.
 */
import { chainKeys } from "../../core/chain/keys.ts";
import { readLog } from "../../core/chain/read.ts";
import { decodeEnvelope } from "../../core/envelope/envelope.ts";
import { withPublicMemo } from "../../core/ledger/private_memo.ts";
import type { Logger } from "../../core/ports.ts";
import type { Store } from "../../core/store/store.ts";
import { GatewayError } from "./errors.ts";
import { eventBufferMax, eventClientsMax, eventHeartbeatMs, eventReplayBatch } from "./limits.ts";

export interface AcceptedEvent {
  position: number;
  cid: string;
  net: string;
  kind: string;
  author: string;
  seq: number;
  ts: number;
  body: unknown;
  /** Set when the body's private memo was replaced by `(private)` (core/ledger/private_memo.ts). */
  memoPrivate?: true;
}

export interface EventFilter {
  kind?: string;
  author?: string;
}

/** Bytes and bigints made JSON-safe the way `core/json.ts` prints them. */
function jsonSafe(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Uint8Array) return btoa(String.fromCharCode(...v));
    return v;
  }));
}

async function eventOf(position: number, bytes: Uint8Array): Promise<AcceptedEvent> {
  const { envelope, cid } = await decodeEnvelope(bytes);
  const { net, kind, author, seq, ts, body } = envelope;
  // A private memo is never passed on, sealed or not: the gateway holds no member's keys.
  const shown = withPublicMemo(jsonSafe(body));
  return {
    position,
    cid,
    net,
    kind,
    author,
    seq,
    ts,
    body: shown.body,
    ...(shown.memoPrivate ? { memoPrivate: true as const } : {}),
  };
}

function matches(event: AcceptedEvent, filter: EventFilter): boolean {
  return (filter.kind === undefined || event.kind === filter.kind) &&
    (filter.author === undefined || event.author === filter.author);
}

function frame(event: AcceptedEvent): string {
  return `id: ${event.position}\nevent: envelope\ndata: ${JSON.stringify(event)}\n\n`;
}

class Client {
  readonly filter: EventFilter;
  /** Next log position this client is to be sent. */
  next: number;
  /** Where the hub's live events start for this client: below it, the client reads the store. */
  readonly liveFrom: number;
  readonly queue: AcceptedEvent[] = [];
  dropped = false;
  closed = false;
  #wake?: () => void;

  constructor(filter: EventFilter, next: number, liveFrom: number) {
    this.filter = filter;
    this.next = next;
    this.liveFrom = liveFrom;
  }

  offer(event: AcceptedEvent): void {
    if (this.closed || !matches(event, this.filter)) return;
    if (this.queue.length >= eventBufferMax) {
      this.dropped = true;
      this.queue.length = 0;
    } else this.queue.push(event);
    this.wake();
  }

  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  waitForWork(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

export class EventHub {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #clients = new Set<Client>();
  /** Next log position the hub's reader has not read. */
  #position = 0;
  #reading?: Promise<void>;
  #again = false;
  #stopped = false;

  constructor(components: { store: Store; logger: Logger }) {
    this.#store = components.store;
    this.#logger = components.logger;
  }

  /** Starts at the log's current end: live events are those committed from now on. */
  async start(): Promise<void> {
    this.#position = (await this.#store.get<number>(chainKeys.logNext))?.value ?? 0;
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Something committed: the reader reads the log on from where it was. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#reading) {
      this.#again = true;
      return;
    }
    this.#reading = this.#read().finally(() => {
      this.#reading = undefined;
      if (this.#again) {
        this.#again = false;
        this.wake();
      }
    });
  }

  /** Waits for the reader to finish what it was woken for (tests). */
  async settled(): Promise<void> {
    for (let i = 0; i < 100 && this.#reading; i++) await this.#reading;
  }

  async #read(): Promise<void> {
    try {
      for await (const item of readLog(this.#store, this.#position)) {
        this.#position = item.position + 1;
        const event = await eventOf(item.position, item.bytes);
        for (const client of this.#clients) client.offer(event);
      }
    } catch (error) {
      this.#logger.warn("gateway_events_read_failed", { error: (error as Error).message });
    }
  }

  /**
   * A stream of `text/event-stream` for one client: from log position `since + 1` when given
   * (resuming), else from now on.
   */
  open(
    filter: EventFilter,
    since: number | undefined,
  ): ReadableStream<Uint8Array> {
    if (this.#clients.size >= eventClientsMax) {
      throw new GatewayError(503, "too_many_streams", "Too many event streams open: retry later");
    }
    const liveFrom = this.#position;
    const client = new Client(filter, since === undefined ? liveFrom : since + 1, liveFrom);
    this.#clients.add(client);
    const encoder = new TextEncoder();
    const close = () => {
      client.closed = true;
      this.#clients.delete(client);
      client.wake();
    };
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        controller.enqueue(encoder.encode(`: icn events from ${client.next}\nretry: 2000\n\n`));
      },
      pull: async (controller) => {
        for (let turn = 0; turn < 1000 && !client.closed && !this.#stopped; turn++) {
          if (client.dropped) {
            controller.enqueue(encoder.encode(
              `event: dropped\ndata: {"reason":"slow_client","resumeFrom":${client.next - 1}}\n\n`,
            ));
            close();
            break;
          }
          // Catching up: the log between the resume point and where live events start.
          if (client.next < client.liveFrom) {
            const out: string[] = [];
            let read = 0;
            for await (const item of readLog(this.#store, client.next, eventReplayBatch)) {
              if (item.position >= client.liveFrom) break;
              read++;
              client.next = item.position + 1;
              const event = await eventOf(item.position, item.bytes);
              if (matches(event, client.filter)) out.push(frame(event));
            }
            // Nothing left below the live start: the rest comes live.
            if (read === 0) client.next = client.liveFrom;
            if (out.length > 0) {
              controller.enqueue(encoder.encode(out.join("")));
              return;
            }
            continue;
          }
          const ready = client.queue.splice(0).filter((e) => e.position >= client.next);
          if (ready.length > 0) {
            client.next = ready[ready.length - 1].position + 1;
            controller.enqueue(encoder.encode(ready.map(frame).join("")));
            return;
          }
          await client.waitForWork(eventHeartbeatMs);
          if (client.queue.length === 0 && !client.closed && !client.dropped) {
            controller.enqueue(encoder.encode(": ping\n\n"));
            return;
          }
        }
        controller.close();
      },
      cancel: close,
    }, { highWaterMark: 0 });
  }

  /** Ends every stream (the node is stopping). */
  stop(): void {
    this.#stopped = true;
    for (const client of [...this.#clients]) {
      client.closed = true;
      client.wake();
    }
    this.#clients.clear();
  }
}
