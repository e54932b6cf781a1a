import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { classifyIp } from '@defenseclaw/policy';

// The SSRF guard (spec 30 §B2): registry URLs are checked at config load, and every address the upstream pool
// connects to is checked again by a custom DNS `lookup`, so a name whose answer turns private is still refused.

/** What an address is, for the SSRF guard; everything but `public` is refused unless a provider allows private. */
export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'cgnat'
  | 'multicast'
  | 'reserved'
  | 'metadata';

const METADATA_HOSTNAMES: ReadonlySet<string> = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
]);

const METADATA = new BlockList();
for (const ip of ['169.254.169.254', '169.254.170.2', '169.254.170.23', '100.100.100.200', '168.63.129.16']) {
  METADATA.addAddress(ip, 'ipv4');
}
for (const ip of ['fd00:ec2::254', 'fd00:ec2::23']) METADATA.addAddress(ip, 'ipv6');

const MULTICAST = new BlockList();
MULTICAST.addSubnet('224.0.0.0', 4, 'ipv4');
MULTICAST.addSubnet('ff00::', 8, 'ipv6');

const RESERVED = new BlockList();
RESERVED.addSubnet('240.0.0.0', 4, 'ipv4'); // incl. 255.255.255.255
RESERVED.addSubnet('192.0.0.0', 24, 'ipv4');
RESERVED.addSubnet('198.18.0.0', 15, 'ipv4');
RESERVED.addSubnet('0.0.0.0', 8, 'ipv4');
RESERVED.addAddress('::', 'ipv6');

/** Classifies a resolved IP address (any family, IPv4-mapped forms included) for the SSRF guard. */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 0) return 'reserved';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (METADATA.check(address, type)) return 'metadata';
  const cls = classifyIp(address);
  if (cls === 'metadata') return 'metadata';
  if (MULTICAST.check(address, type)) return 'multicast';
  if (RESERVED.check(address, type)) return 'reserved';
  if (cls === undefined || cls === 'public') return 'public';
  return cls;
}

/** Whether an address class may be connected to, given the provider's `allow_private`. */
export function isAddressAllowed(cls: AddressClass, allowPrivate: boolean): boolean {
  if (cls === 'public') return true;
  if (cls === 'metadata') return false;
  return allowPrivate;
}

/** The result of checking a registry URL at config load. */
export type ProviderUrlCheck = { success: true; url: URL } | { success: false; message: string };

/**
 * Checks a provider `base_url` at config load: https, or http only to a loopback host with `allow_private`; no
 * userinfo, query or fragment; metadata hosts always refused; private IP literals only with `allow_private`.
 */
export function checkProviderUrl(text: string, allowPrivate: boolean): ProviderUrlCheck {
  if (!URL.canParse(text)) return { success: false, message: `must be an absolute URL; got "${text}"` };
  const url = new URL(text);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { success: false, message: `must use https; got "${url.protocol.slice(0, -1)}"` };
  }
  if (url.username !== '' || url.password !== '') {
    return { success: false, message: 'must not carry credentials (userinfo); use api_key_env' };
  }
  if (url.hash !== '' || text.includes('#')) return { success: false, message: 'must not have a fragment' };
  if (url.search !== '' || text.includes('?')) return { success: false, message: 'must not have a query' };
  const host = hostOf(url);
  const cls = classifyHost(host);
  if (cls === 'metadata') {
    return { success: false, message: `points at a cloud metadata address (${host}); refused` };
  }
  if (url.protocol === 'http:') {
    if (cls !== 'loopback') {
      return {
        success: false,
        message: `must use https (http is only allowed to a loopback host); got "${text}"`,
      };
    }
    if (!allowPrivate) {
      return { success: false, message: `is a loopback http URL; set allow_private: true to allow it` };
    }
  }
  if (cls !== undefined && cls !== 'public' && !allowPrivate) {
    return {
      success: false,
      message: `points at a ${cls.replace('_', '-')} address (${host}); set allow_private: true to allow it`,
    };
  }
  return { success: true, url };
}

/** The error the guarded lookup fails a connection with. */
export class SsrfRefusedError extends Error {
  /** A stable code for callers that walk error causes. */
  readonly code = 'DC_SSRF_REFUSED';
  /** Creates the refusal error (the message names the host and the address class, never a secret). */
  constructor(message: string) {
    super(message);
    this.name = 'SsrfRefusedError';
  }
}

/** Options of `createGuardedLookup`. */
export type GuardedLookupOptions = {
  /** Whether private, loopback and link-local answers are allowed (metadata never is). */
  allowPrivate: boolean;
  /** The resolver to wrap. @default dns.lookup */
  lookup?: LookupFunction;
};

/**
 * Returns a `net.connect` lookup that resolves with the wrapped resolver and refuses the whole answer when any
 * address is not allowed (a mixed answer is a DNS-rebinding tell).
 */
export function createGuardedLookup(options: GuardedLookupOptions): LookupFunction {
  const inner = options.lookup ?? (dnsLookup as unknown as LookupFunction);
  const allowPrivate = options.allowPrivate;
  return ((hostname: string, lookupOptions: object, callback: LookupCallback) => {
    const name = hostname.toLowerCase().replace(/\.$/, '');
    if (METADATA_HOSTNAMES.has(name)) {
      callback(new SsrfRefusedError(`upstream host ${hostname} is a cloud metadata name; refused`), '', 0);
      return;
    }
    inner(
      hostname,
      { ...lookupOptions } as never,
      ((err: NodeJS.ErrnoException | null, address: unknown, family?: number) => {
        if (err) {
          callback(err, '', 0);
          return;
        }
        const list: LookupAddress[] = Array.isArray(address)
          ? (address as LookupAddress[])
          : [{ address: String(address), family: family ?? isIP(String(address)) }];
        for (const entry of list) {
          const cls = classifyAddress(entry.address);
          if (!isAddressAllowed(cls, allowPrivate)) {
            callback(
              new SsrfRefusedError(
                `upstream host ${hostname} resolved to a ${cls.replace('_', '-')} address; refused`,
              ),
              '',
              0,
            );
            return;
          }
        }
        if (Array.isArray(address)) (callback as unknown as AllCallback)(null, list);
        else callback(null, list[0]!.address, list[0]!.family);
      }) as never,
    );
  }) as LookupFunction;
}

// --- internal ---

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;
type AllCallback = (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void;

function hostOf(url: URL): string {
  const h = url.hostname.toLowerCase();
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

function classifyHost(host: string): AddressClass | undefined {
  const name = host.replace(/\.$/, '');
  if (METADATA_HOSTNAMES.has(name)) return 'metadata';
  if (name === 'localhost' || name.endsWith('.localhost')) return 'loopback';
  if (isIP(name) !== 0) return classifyAddress(name);
  return undefined;
}
