/**
 * "Unlocking keystore… 1.2 s" on stderr while scrypt runs (2–2.5 s at the default work factor),
 * on a terminal only, cleared when done: stdout carries results only, and a pipe or a log gets
 * nothing.
 */

/** How often the elapsed time is redrawn. */
const progressRedrawMs = 200;

export interface ProgressTarget {
  isTerminal(): boolean;
  writeSync(bytes: Uint8Array): number;
}

/**
 * Runs `work` showing `label` and the elapsed time on `target` (default stderr) while it runs.
 * scrypt is synchronous and holds the event loop, so the line is drawn before it starts and
 * redrawn whenever the loop is free; `tick()`, handed to `work`, redraws it from inside long
 * synchronous work that can call back.
 */
export async function withProgress<T>(
  label: string,
  work: (tick: () => void) => Promise<T>,
  options: { target?: ProgressTarget; now?: () => number } = {},
): Promise<T> {
  const target = options.target ?? Deno.stderr;
  const now = options.now ?? (() => performance.now());
  if (!target.isTerminal()) return await work(() => {});
  const encoder = new TextEncoder();
  const started = now();
  let shown = false;
  let drawnAt = -Infinity;
  const draw = (force = false) => {
    const elapsed = now() - started;
    if (!force && now() - drawnAt < progressRedrawMs) return;
    drawnAt = now();
    shown = true;
    target.writeSync(encoder.encode(`\r\x1b[K${label}… ${(elapsed / 1000).toFixed(1)} s`));
  };
  // scrypt blocks the loop at once: the first line goes out before it starts.
  draw(true);
  const timer = setInterval(() => draw(), progressRedrawMs);
  try {
    return await work(() => draw());
  } finally {
    clearInterval(timer);
    if (shown) target.writeSync(encoder.encode("\r\x1b[K"));
  }
}
