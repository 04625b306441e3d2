/** Media types of request and response bodies. */

export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

export function isJsonType(mt: string): boolean {
  return mt === 'application/json' || mt.endsWith('+json') || mt === 'text/json';
}

export function isJsonMedia(mt: string): boolean {
  const m = mt.split(';')[0]!.trim().toLowerCase();
  return m === 'application/json' || /^application\/[^/]*\+json$/.test(m) || /^[a-z]+\/[a-z0-9.+-]*json$/.test(m);
}

/** the request media type to use, preferring JSON, then forms, then text, then the first listed */
export function pickRequestMedia(types: readonly string[]): string | undefined {
  if (!types.length) return undefined;
  const lower = types.map((t) => t.toLowerCase());
  const find = (pred: (t: string) => boolean): string | undefined => {
    const i = lower.findIndex(pred);
    return i >= 0 ? types[i] : undefined;
  };
  return (
    find((t) => t.split(';')[0]!.trim() === 'application/json') ??
    find(isJsonMedia) ??
    find((t) => t.startsWith('application/x-www-form-urlencoded')) ??
    find((t) => t.startsWith('multipart/form-data')) ??
    find((t) => t.startsWith('text/plain')) ??
    types[0]
  );
}
