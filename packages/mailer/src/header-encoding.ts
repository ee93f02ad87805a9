/** RFC 2047 encoded-word for header values that are not plain ASCII (display names, subjects). */
export function encodeHeaderValue(value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ');
  if (/^[\x20-\x7e]*$/.test(clean)) return clean;
  return `=?UTF-8?B?${Buffer.from(clean, 'utf8').toString('base64')}?=`;
}

/** Refuses header injection: an address is one line with no control characters. */
export function assertSingleLine(value: string, what: string): void {
  if (/[\r\n\0]/.test(value)) throw new TypeError(`${what} must be a single line`);
}
