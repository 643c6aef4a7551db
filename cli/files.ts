/** File helpers shared by command handlers: one wording for unreadable input, one existence check. */
import { InvalidInputError } from "../core/errors.ts";

/** True when something exists at `path` (without following a final symlink). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Reads a user-named input file; a failure is an `InvalidInputError` naming the file. */
export async function readInputFile(path: string, what = ""): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new InvalidInputError(
      `Cannot read ${what ? what + " " : ""}${path}: ${(error as Error).message}`,
    );
  }
}

/** Text variant of `readInputFile`. */
export async function readInputText(path: string, what = ""): Promise<string> {
  return new TextDecoder().decode(await readInputFile(path, what));
}
