/**
 * Reproducible archives, written by hand so every byte is decided here:
 * entries in the given order, one fixed mtime, uid/gid 0, no user or group
 * names, fixed modes. Same inputs give byte-identical `.tar.gz` and `.zip`.
 */

export interface ArchiveEntry {
  /** Path inside the archive, `/`-separated, no leading slash. */
  path: string;
  /** File contents; omit for a directory. */
  data?: Uint8Array;
  /** Permission bits, e.g. 0o755 for executables. */
  mode: number;
}

const encoder = new TextEncoder();

/** ustar limits names to 100 bytes (plus a 155-byte prefix we do not need). */
const tarNameBytesMax = 100;
/** 11 octal digits: the ustar size field's limit (8 GiB). */
const tarSizeMax = 0o77777777777;

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, "0");
  if (text.length > length - 1) throw new RangeError(`Value ${value} does not fit a tar field`);
  block.set(encoder.encode(text), offset);
  block[offset + length - 1] = 0;
}

function tarHeader(entry: ArchiveEntry, mtimeSeconds: number): Uint8Array {
  const isDirectory = entry.data === undefined;
  const name = encoder.encode(
    isDirectory && !entry.path.endsWith("/") ? entry.path + "/" : entry.path,
  );
  if (name.length > tarNameBytesMax) {
    throw new RangeError(`Archive path "${entry.path}" is longer than ${tarNameBytesMax} bytes`);
  }
  const size = entry.data?.length ?? 0;
  if (size > tarSizeMax) throw new RangeError(`Archive entry "${entry.path}" is too large`);
  const block = new Uint8Array(512);
  block.set(name, 0);
  writeOctal(block, 100, 8, entry.mode & 0o7777);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, mtimeSeconds);
  block.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  block[156] = isDirectory ? 0x35 : 0x30; // '5' directory, '0' file
  block.set(encoder.encode("ustar\u0000"), 257);
  block.set(encoder.encode("00"), 263);
  writeOctal(block, 329, 8, 0); // devmajor
  writeOctal(block, 337, 8, 0); // devminor
  let sum = 0;
  for (const byte of block) sum += byte;
  writeOctal(block, 148, 7, sum);
  block[155] = 0x20;
  return block;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** An uncompressed ustar archive. */
export function createTar(entries: ArchiveEntry[], mtimeSeconds: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    parts.push(tarHeader(entry, mtimeSeconds));
    if (entry.data && entry.data.length > 0) {
      parts.push(entry.data);
      const padding = (512 - entry.data.length % 512) % 512;
      if (padding > 0) parts.push(new Uint8Array(padding));
    }
  }
  parts.push(new Uint8Array(1024)); // end of archive: two zero blocks
  return concat(parts);
}

async function compress(data: Uint8Array, format: "gzip" | "deflate-raw"): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * gzip with a fixed header: mtime 0, no name, OS byte 255 ("unknown"), so the
 * bytes depend only on the input (and the deflate implementation of this Deno).
 */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const out = await compress(data, "gzip");
  if (out[0] !== 0x1f || out[1] !== 0x8b || out[3] !== 0) {
    throw new Error("CompressionStream wrote an unexpected gzip header");
  }
  out.fill(0, 4, 8);
  out[9] = 255;
  return out;
}

export async function createTarGz(
  entries: ArchiveEntry[],
  mtimeSeconds: number,
): Promise<Uint8Array> {
  return await gzip(createTar(entries, mtimeSeconds));
}

const crcTable = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** MS-DOS date and time (2-second resolution, 1980 to 2107) of a UTC instant. */
function dosDateTime(mtimeSeconds: number): { time: number; date: number } {
  const d = new Date(Math.max(mtimeSeconds * 1000, Date.UTC(1980, 0, 1)));
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

/** A zip archive (deflate, Unix modes in the external attributes), no extra fields. */
export async function createZip(
  entries: ArchiveEntry[],
  mtimeSeconds: number,
): Promise<Uint8Array> {
  const { time, date } = dosDateTime(mtimeSeconds);
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const isDirectory = entry.data === undefined;
    const name = encoder.encode(
      isDirectory && !entry.path.endsWith("/") ? entry.path + "/" : entry.path,
    );
    const raw = entry.data ?? new Uint8Array(0);
    const compressed = isDirectory ? raw : await compress(raw, "deflate-raw");
    const method = isDirectory ? 0 : 8;
    const crc = crc32(raw);
    if (compressed.length >= 0xffffffff || raw.length >= 0xffffffff) {
      throw new RangeError(`Archive entry "${entry.path}" needs zip64, which is not written`);
    }
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true); // version needed
    lv.setUint16(6, 0x0800, true); // UTF-8 names
    lv.setUint16(8, method, true);
    lv.setUint16(10, time, true);
    lv.setUint16(12, date, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, compressed.length, true);
    lv.setUint32(22, raw.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, 0, true);
    local.set(name, 30);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, (3 << 8) | 20, true); // made by Unix, spec 2.0
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0x0800, true);
    cv.setUint16(10, method, true);
    cv.setUint16(12, time, true);
    cv.setUint16(14, date, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, compressed.length, true);
    cv.setUint32(24, raw.length, true);
    cv.setUint16(28, name.length, true);
    const unixMode = (isDirectory ? 0o040000 : 0o100000) | (entry.mode & 0o7777);
    cv.setUint32(38, ((unixMode << 16) | (isDirectory ? 0x10 : 0)) >>> 0, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local, compressed);
    centrals.push(central);
    offset += local.length + compressed.length;
  }
  const centralBytes = concat(centrals);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, centralBytes.length, true);
  ev.setUint32(16, offset, true);
  return concat([...locals, centralBytes, end]);
}
