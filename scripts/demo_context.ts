/** What `scripts/demo.ts` hands each demo step. */
export interface DemoRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface DemoContext {
  n: number;
  say(text: string): void;
  icn(name: string | null, args: string[], expectCode?: number): Promise<DemoRun>;
  icnJson<T = Record<string, unknown>>(name: string | null, args: string[]): Promise<T>;
  exchange(names: readonly string[]): Promise<void>;
  dids: Record<string, string>;
  work: string;
  members: readonly string[];
}
