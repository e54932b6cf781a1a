import type { IpClass, UrlFact } from './shell/types.ts';

/** Hostnames that resolve to a cloud metadata service. */
const METADATA_HOSTNAMES: ReadonlySet<string> = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** IP literals (canonical form) of cloud metadata / credential services (spec 30 §A5.4 SSRF-IMDS). */
const METADATA_IPS: ReadonlySet<string> = new Set([
  '169.254.169.254', // AWS, Azure IMDS, GCP, OCI, DigitalOcean, OpenStack
  '169.254.170.2', // AWS ECS task credentials
  '169.254.170.23', // AWS EKS pod identity agent
  '100.100.100.200', // Alibaba Cloud
  'fd00:ec2::254', // AWS IMDS over IPv6
  'fd00:ec2::23', // AWS EKS pod identity agent over IPv6
]);

/**
 * Parses an IPv4 literal in any spelling `inet_aton` and the WHATWG URL parser accept (decimal, hex, octal, and
 * the 1-, 2-, 3- and 4-part forms, mixed) into its 32-bit value, or undefined when the text is not one.
 */
export function parseIpv4(text: string): number | undefined {
  let s = text;
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s === '' || s.length > 64) return undefined;
  const parts = s.split('.');
  if (parts.length > 4) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    const n = _parseIpv4Part(p);
    if (n === undefined) return undefined;
    nums.push(n);
  }
  const last = nums[nums.length - 1]!;
  const head = nums.slice(0, -1);
  if (head.some((n) => n > 255)) return undefined;
  const lastMax = 2 ** (8 * (5 - nums.length)) - 1;
  if (last > lastMax) return undefined;
  let value = 0;
  for (let i = 0; i < head.length; i++) value += head[i]! * 2 ** (8 * (3 - i));
  return value + last;
}

/** Formats a 32-bit IPv4 value as a dotted quad. */
export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Parses an IPv6 literal (optionally bracketed, with a zone id or an embedded IPv4 tail) into eight 16-bit groups. */
export function parseIpv6(text: string): number[] | undefined {
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(':') || s.length > 64 || !/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return undefined;
  const parseSide = (side: string): number[] | undefined => {
    if (side === '') return [];
    const out: number[] = [];
    const items = side.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = _strictDottedQuad(item);
        if (v4 === undefined) return undefined;
        out.push(v4 >>> 16, v4 & 0xffff);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
      out.push(Number.parseInt(item, 16));
    }
    return out;
  };
  if (dbl >= 0) {
    const left = parseSide(s.slice(0, dbl));
    const right = parseSide(s.slice(dbl + 2));
    if (!left || !right || left.length + right.length > 7) return undefined;
    return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  }
  const all = parseSide(s);
  return all && all.length === 8 ? all : undefined;
}

/** Formats eight 16-bit groups as an RFC 5952 compressed IPv6 literal. */
export function formatIpv6(groups: readonly number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Returns the canonical spelling of an IP literal (dotted quad for IPv4 and IPv4-mapped / NAT64 IPv6, compressed
 * lowercase IPv6 otherwise), or undefined when the text is not an IP literal.
 */
export function canonicalIp(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  const v4 = parseIpv4(h);
  if (v4 !== undefined) return formatIpv4(v4);
  const v6 = parseIpv6(h);
  if (!v6) return undefined;
  const embedded = _embeddedIpv4(v6);
  return embedded !== undefined ? formatIpv4(embedded) : formatIpv6(v6);
}

/**
 * Classifies an IP literal in any spelling (or a cloud-metadata hostname); returns undefined for any other hostname,
 * e.g. `169.254.169.254.nip.io`.
 */
export function classifyIp(host: string): IpClass | undefined {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const name = h.endsWith('.') ? h.slice(0, -1) : h;
  if (METADATA_HOSTNAMES.has(name)) return 'metadata';
  const v4 = parseIpv4(h);
  if (v4 !== undefined) return _classifyV4(v4);
  const v6 = parseIpv6(h);
  if (!v6) return undefined;
  const embedded = _embeddedIpv4(v6);
  if (embedded !== undefined) return _classifyV4(embedded);
  if (METADATA_IPS.has(formatIpv6(v6))) return 'metadata';
  if (v6.every((g, i) => (i < 7 ? g === 0 : g <= 1))) return 'loopback'; // ::1 and the unspecified ::
  const first = v6[0]!;
  if ((first & 0xffc0) === 0xfe80) return 'link_local';
  if ((first & 0xfe00) === 0xfc00) return 'private';
  return 'public';
}

/**
 * Parses a URL (`scheme://[user@]host[:port][/…]`) or a bare `host[:port][/path]` into a URL fact, normalising IP
 * literals of any spelling to their canonical form; returns undefined when no plausible host is present.
 */
export function parseUrlFact(text: string): UrlFact | undefined {
  const raw = text;
  let s = text.trim();
  if (s === '' || s.length > 8192) return undefined;
  let scheme: string | undefined;
  const sm = /^([a-zA-Z][a-zA-Z0-9+.-]{0,31}):\/\//.exec(s);
  if (sm) {
    scheme = sm[1]!.toLowerCase();
    s = s.slice(sm[0].length);
  } else if (/^\/\//.test(s)) {
    s = s.slice(2);
  } else if (/^[a-zA-Z][a-zA-Z0-9+.-]*:[^0-9[]/.test(s) && !/^[^:/]+:\d/.test(s)) {
    // `mailto:x`, `file:/x`, `C:\x` and other non-authority forms carry no host we can use.
    return undefined;
  }
  const end = s.search(/[/?#\\]/);
  let authority = end >= 0 ? s.slice(0, end) : s;
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return undefined;
    host = authority.slice(1, close);
    const rest = authority.slice(close + 1);
    if (rest.startsWith(':')) portText = rest.slice(1);
    else if (rest !== '') return undefined;
    if (!parseIpv6(host)) return undefined;
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0 && authority.indexOf(':') === colon) {
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    } else if (colon >= 0) {
      // A bare IPv6 literal without brackets (e.g. `::ffff:a9fe:a9fe` as an operand).
      if (!parseIpv6(authority)) return undefined;
      host = authority;
    } else {
      host = authority;
    }
  }
  host = host.toLowerCase();
  let port: number | undefined;
  if (portText !== undefined && portText !== '') {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
    if (port > 65535) return undefined;
  }
  const canonical = canonicalIp(host);
  if (canonical === undefined) {
    const name = host.endsWith('.') ? host.slice(0, -1) : host;
    if (!/^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/.test(name)) return undefined;
    // Without a scheme, a bare word is only a host when it has a dot, a port, or is a known local/metadata name.
    if (
      !scheme &&
      !name.includes('.') &&
      port === undefined &&
      name !== 'localhost' &&
      !METADATA_HOSTNAMES.has(name)
    ) {
      return undefined;
    }
    host = name;
  } else {
    host = canonical;
  }
  const fact: UrlFact = { raw, host };
  if (scheme !== undefined) fact.scheme = scheme;
  if (port !== undefined) fact.port = port;
  const ipClass = classifyIp(host);
  if (ipClass !== undefined) fact.ipClass = ipClass;
  else if (host === 'localhost' || host.endsWith('.localhost')) fact.ipClass = 'loopback';
  return fact;
}

/** Builds a URL fact for a bare host operand (ssh/nc/dig targets), which needs no dot to count as a host. */
export function hostFact(raw: string, hostText: string, port?: number): UrlFact | undefined {
  let h = hostText.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const canonical = canonicalIp(h);
  if (canonical === undefined) {
    if (h.endsWith('.')) h = h.slice(0, -1);
    if (!/^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/.test(h)) return undefined;
  } else {
    h = canonical;
  }
  const fact: UrlFact = { raw, host: h };
  if (port !== undefined && Number.isInteger(port) && port >= 0 && port <= 65535) fact.port = port;
  const ipClass = classifyIp(h);
  if (ipClass !== undefined) fact.ipClass = ipClass;
  else if (h === 'localhost' || h.endsWith('.localhost')) fact.ipClass = 'loopback';
  return fact;
}

// --- internal ---

function _parseIpv4Part(p: string): number | undefined {
  if (p === '') return undefined;
  if (/^0[xX][0-9a-fA-F]*$/.test(p)) return p.length === 2 ? 0 : Number.parseInt(p.slice(2), 16);
  if (/^0[0-7]+$/.test(p)) return Number.parseInt(p.slice(1), 8);
  if (/^(0|[1-9][0-9]*)$/.test(p)) return p.length > 12 ? undefined : Number(p);
  return undefined;
}

function _strictDottedQuad(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((n) => n > 255)) return undefined;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function _embeddedIpv4(v6: readonly number[]): number | undefined {
  const tail = (v6[6]! << 16) + v6[7]!;
  const zeros = (n: number) => v6.slice(0, n).every((g) => g === 0);
  if (zeros(5) && v6[5] === 0xffff) return tail >>> 0; // ::ffff:a.b.c.d (IPv4-mapped)
  if (v6[0] === 0x64 && v6[1] === 0xff9b && v6.slice(2, 6).every((g) => g === 0)) return tail >>> 0; // NAT64
  // Deprecated IPv4-compatible ::a.b.c.d (but not :: and ::1).
  if (zeros(6) && v6[6] !== 0) return tail >>> 0;
  return undefined;
}

function _classifyV4(v: number): IpClass {
  const a = v >>> 24;
  const b = (v >>> 16) & 255;
  if (METADATA_IPS.has(formatIpv4(v))) return 'metadata';
  if (a === 127 || a === 0) return 'loopback';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
  if (a === 169 && b === 254) return 'link_local';
  if (a === 100 && b >= 64 && b <= 127) return 'cgnat';
  return 'public';
}
