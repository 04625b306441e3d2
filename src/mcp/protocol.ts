/** Protocol versions the gateway speaks (PRODUCT §4). */
export const STREAMABLE_VERSIONS: ReadonlySet<string> = new Set(['2025-11-25', '2025-06-18', '2025-03-26']);
/** The legacy HTTP+SSE transport also serves 2024-11-05 clients. */
export const ALL_VERSIONS: ReadonlySet<string> = new Set(['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']);
export const LATEST_VERSION = '2025-11-25';
/** MCP 2025-06-18 §Protocol Version Header: without the header and no other way to know, assume 2025-03-26. */
export const DEFAULT_NEGOTIATED_VERSION = '2025-03-26';
/** JSON-RPC batches exist only in 2025-03-26 (removed in 2025-06-18) and the 2024-11-05 legacy transport. */
export const batchAllowed = (version: string): boolean => version === '2025-03-26' || version === '2024-11-05';
