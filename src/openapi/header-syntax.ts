/** What HTTP accepts as a header name and value (checked when building and when sending a request). */

export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** what undici (and HTTP) accepts in a header value */
export const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
