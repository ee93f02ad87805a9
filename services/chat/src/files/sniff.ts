/** Enough leading bytes to recognize every format below. */
export const SNIFF_BYTES = 512;

const startsWith = (bytes: Buffer, signature: number[], offset = 0) =>
  bytes.length >= offset + signature.length && signature.every((value, i) => bytes[offset + i] === value);
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));

/**
 * The content type the bytes themselves show, never the file name or the client's claim, so a script named
 * `cat.png` is not served as an image. Null when the bytes match nothing known.
 */
export function sniffMimeType(bytes: Buffer): string | null {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'image/gif';
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'image/webp';
  if (startsWith(bytes, ascii('%PDF-'))) return 'application/pdf';
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return 'application/zip';
  if (bytes.length > 0 && looksLikeText(bytes)) return 'text/plain';
  return null;
}

function looksLikeText(bytes: Buffer): boolean {
  // Cut at a character boundary: the sample may end inside a multi-byte UTF-8 sequence.
  let end = bytes.length;
  while (end > 0 && end > bytes.length - 4 && (bytes[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && bytes[end - 1]! >= 0xc0) end--;
  const sample = bytes.subarray(0, end);
  if (sample.includes(0)) return false;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(sample);
  if (text.includes('\uFFFD')) return false;
  const control = [...text].filter((c) => {
    const code = c.charCodeAt(0);
    return code < 32 && c !== '\n' && c !== '\r' && c !== '\t' && c !== '\f';
  }).length;
  return control === 0;
}
