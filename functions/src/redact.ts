/**
 * Scrubs secrets from anything that goes to logs: API keys, bearer tokens, webhook secrets and
 * the query strings of URLs (a presigned URL's query string is its credential).
 */
const RULES: [RegExp, string][] = [
  [/\btrp_[A-Za-z0-9_.-]+/g, "trp_[redacted]"],
  [/\bwhsec_[A-Za-z0-9+/=]+/g, "whsec_[redacted]"],
  [/\b(Bearer)\s+\S+/gi, "$1 [redacted]"],
  [/(https?:\/\/[^\s"'?#]+)\?[^\s"'#]*/gi, "$1?[redacted]"],
  [/\b(X-Amz-(?:Signature|Credential|Security-Token))=[^&\s"']+/gi, "$1=[redacted]"],
];

export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}

/** A request path with its query string, keeping parameter names but not values that look secret. */
export function redactQuery(search: URLSearchParams): string {
  const parts: string[] = [];
  for (const [k, v] of search) {
    const secret = /^(x-amz-|key$|token$|signature$|secret$|api[-_]?key$)/i.test(k);
    parts.push(`${encodeURIComponent(k)}=${secret ? "[redacted]" : encodeURIComponent(redact(v))}`);
  }
  return parts.join("&");
}
