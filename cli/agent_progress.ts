/**
 * "Unlocking keystore… 1.2 s" on stderr while scrypt runs (2–2.5 s at the default work factor),
 * on a terminal only, cleared when done: stdout carries results only, and a pipe or a log gets
 * nothing.
 *
 * scrypt (age-encryption's, through @noble/hashes) is synchronous and holds this thread's event
 * loop for its whole run, so no timer here could redraw the line. A small worker (its own thread,
 * from a data: URL so a compiled binary needs no extra file) redraws it; when a worker cannot
 * start, the line is drawn once and cleared.
 */
import { stderrIsTerminal, writeStderrBytes } from "./io_scope.ts";

/** How often the elapsed time is redrawn. */
const progressRedrawMs = 200;
/** How long to wait for the worker to confirm it stopped drawing before clearing the line. */
const progressStopWaitMs = 500;

const encoder = new TextEncoder();

function line(label: string, elapsedMs: number): string {
  return `\r\x1b[K${label}… ${(elapsedMs / 1000).toFixed(1)} s`;
}

const drawerSource = `
let timer;
self.onmessage = (event) => {
  const message = event.data;
  if (message.op === "start") {
    const started = performance.now() - message.elapsedMs;
    const encoder = new TextEncoder();
    timer = setInterval(() => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      Deno.stderr.writeSync(encoder.encode("\\r\\x1b[K" + message.label + "\\u2026 " + seconds + " s"));
    }, message.everyMs);
  } else {
    clearInterval(timer);
    self.postMessage("stopped");
  }
};
`;

/** Starts the drawing worker, or null when this runtime cannot. */
function startDrawer(label: string): Worker | null {
  try {
    const worker = new Worker(
      `data:application/javascript,${encodeURIComponent(drawerSource)}`,
      { type: "module" },
    );
    // A worker that fails to load must not take the command down with it: the line stays as is.
    worker.onerror = (event) => event.preventDefault();
    worker.postMessage({ op: "start", label, elapsedMs: 0, everyMs: progressRedrawMs });
    return worker;
  } catch {
    return null;
  }
}

async function stopDrawer(worker: Worker): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const timer = setTimeout(resolve, progressStopWaitMs);
  worker.onmessage = () => resolve();
  worker.postMessage({ op: "stop" });
  await promise;
  clearTimeout(timer);
  worker.terminate();
}

/** Runs `work`, showing `label` and the elapsed time on stderr while it runs (terminal only). */
export async function withProgress<T>(label: string, work: () => Promise<T>): Promise<T> {
  if (!stderrIsTerminal()) return await work();
  // The first line goes out before scrypt takes the thread.
  writeStderrBytes(encoder.encode(line(label, 0)));
  const drawer = startDrawer(label);
  try {
    return await work();
  } finally {
    if (drawer) await stopDrawer(drawer);
    writeStderrBytes(encoder.encode("\r\x1b[K"));
  }
}
