// Per-program option grammar: which flags take a value, so flag values are not mistaken for operands.

/** One program's option grammar. */
export type OptionSpec = {
  /** Short option letters that take a value (attached `-ofile` or the next word). */
  s?: string;
  /** Short option letters whose value may only be attached (`sed -i.bak`, `xargs -i{}`). */
  sa?: string;
  /** Long options (with `--`) that take the next word as their value when not written `--x=v`. */
  l?: readonly string[];
  /** Long options that take two values (`jq --arg name value`). */
  l2?: readonly string[];
  /** Options are single-dash words (`find -name`, `openssl -in`); these ones take a value. */
  sdl?: readonly string[];
  /** Stop option parsing at the first operand (wrappers, interpreters: later words belong to the inner program). */
  stop?: boolean;
};

const CURL_LONG = [
  '--data',
  '--data-raw',
  '--data-binary',
  '--data-urlencode',
  '--data-ascii',
  '--json',
  '--form',
  '--form-string',
  '--header',
  '--proxy-header',
  '--output',
  '--upload-file',
  '--user',
  '--user-agent',
  '--referer',
  '--request',
  '--url',
  '--proxy',
  '--preproxy',
  '--cookie',
  '--cookie-jar',
  '--cacert',
  '--capath',
  '--cert',
  '--key',
  '--config',
  '--max-time',
  '--connect-timeout',
  '--retry',
  '--retry-delay',
  '--retry-max-time',
  '--resolve',
  '--connect-to',
  '--output-dir',
  '--write-out',
  '--range',
  '--dump-header',
  '--limit-rate',
  '--interface',
  '--proxy-user',
  '--oauth2-bearer',
  '--unix-socket',
  '--abstract-unix-socket',
  '--ciphers',
  '--max-filesize',
  '--local-port',
  '--dns-servers',
  '--doh-url',
  '--socks4',
  '--socks4a',
  '--socks5',
  '--socks5-hostname',
  '--variable',
  '--aws-sigv4',
  '--trace',
  '--trace-ascii',
  '--stderr',
  '--continue-at',
  '--time-cond',
  '--quote',
  '--mail-from',
  '--mail-rcpt',
  '--expect100-timeout',
];

const WGET_LONG = [
  '--output-document',
  '--output-file',
  '--append-output',
  '--directory-prefix',
  '--input-file',
  '--post-file',
  '--body-file',
  '--post-data',
  '--body-data',
  '--header',
  '--user',
  '--password',
  '--http-user',
  '--http-password',
  '--method',
  '--user-agent',
  '--load-cookies',
  '--save-cookies',
  '--ca-certificate',
  '--certificate',
  '--private-key',
  '--referer',
  '--tries',
  '--timeout',
  '--wait',
  '--execute',
  '--base',
  '--level',
  '--accept',
  '--reject',
  '--domains',
  '--include-directories',
  '--exclude-directories',
  '--quota',
];

const GREP = {
  s: 'efmABCDd',
  l: [
    '--regexp',
    '--file',
    '--max-count',
    '--after-context',
    '--before-context',
    '--context',
    '--include',
    '--exclude',
    '--exclude-dir',
    '--exclude-from',
    '--label',
    '--binary-files',
    '--devices',
    '--directories',
  ],
};
const SSH = { s: 'bcDEeFIiJLlmOopQRSWwB', stop: true };
const SUDO = {
  s: 'ughpCDrtUT',
  l: [
    '--user',
    '--group',
    '--host',
    '--prompt',
    '--close-from',
    '--chdir',
    '--role',
    '--type',
    '--other-user',
    '--command-timeout',
  ],
  stop: true,
};
const SHELL = { l: ['--rcfile', '--init-file'], stop: true };
const PY = { s: 'cmWXQ', stop: true };
const TAR_LONG = [
  '--file',
  '--directory',
  '--files-from',
  '--exclude-from',
  '--exclude',
  '--use-compress-program',
  '--transform',
  '--owner',
  '--group',
  '--mode',
  '--mtime',
  '--format',
  '--blocking-factor',
  '--label',
  '--newer',
  '--after-date',
  '--level',
  '--listed-incremental',
  '--to-command',
  '--checkpoint-action',
  '--info-script',
  '--new-volume-script',
  '--rsh-command',
  '--strip-components',
  '--warning',
];

const OPENSSL_SDL = [
  '-in',
  '-out',
  '-inkey',
  '-key',
  '-cert',
  '-CAfile',
  '-CApath',
  '-passin',
  '-passout',
  '-pass',
  '-connect',
  '-servername',
  '-K',
  '-iv',
  '-S',
  '-md',
  '-name',
  '-subj',
  '-config',
  '-days',
  '-keyout',
  '-newkey',
  '-signkey',
  '-certfile',
  '-outform',
  '-inform',
  '-keyform',
  '-proxy',
  '-port',
  '-host',
  '-accept',
  '-nameopt',
  '-extensions',
  '-reqexts',
  '-digest',
  '-sigopt',
  '-pkeyopt',
  '-aes256',
];

const FIND_SDL = [
  '-name',
  '-iname',
  '-path',
  '-ipath',
  '-wholename',
  '-iwholename',
  '-regex',
  '-iregex',
  '-regextype',
  '-type',
  '-xtype',
  '-newer',
  '-anewer',
  '-cnewer',
  '-user',
  '-group',
  '-uid',
  '-gid',
  '-perm',
  '-size',
  '-mtime',
  '-atime',
  '-ctime',
  '-mmin',
  '-amin',
  '-cmin',
  '-used',
  '-maxdepth',
  '-mindepth',
  '-printf',
  '-fprint',
  '-fprint0',
  '-fls',
  '-fprintf',
  '-lname',
  '-ilname',
  '-inum',
  '-links',
  '-samefile',
  '-fstype',
  '-context',
  '-files0-from',
];

/** Option grammars by normalised program name (programs not listed parse generically). */
export const OPTION_SPECS: Readonly<Record<string, OptionSpec>> = {
  curl: { s: 'AbcCdDeEFHKmoPQrtTuUwxXyYz', l: CURL_LONG },
  wget: { s: 'oOaPeUtTwQlADRIiXB', l: WGET_LONG },
  ssh: SSH,
  autossh: { ...SSH, s: `${SSH.s}M` },
  scp: { s: 'cFiJloPSD', l: [] },
  sftp: { s: 'BbcDFiJlloPRsS' },
  rsync: {
    s: 'eBfTM',
    l: [
      '--rsh',
      '--exclude',
      '--include',
      '--exclude-from',
      '--include-from',
      '--files-from',
      '--filter',
      '--rsync-path',
      '--password-file',
      '--log-file',
      '--temp-dir',
      '--backup-dir',
      '--partial-dir',
      '--compare-dest',
      '--copy-dest',
      '--link-dest',
      '--chmod',
      '--chown',
      '--suffix',
      '--timeout',
      '--port',
      '--bwlimit',
      '--out-format',
      '--max-size',
      '--min-size',
    ],
  },
  grep: GREP,
  egrep: GREP,
  fgrep: GREP,
  zgrep: GREP,
  rg: {
    s: 'efmABCgtTEjMr',
    l: [
      '--regexp',
      '--file',
      '--glob',
      '--iglob',
      '--type',
      '--type-not',
      '--max-count',
      '--replace',
      '--after-context',
      '--before-context',
      '--context',
      '--max-depth',
      '--threads',
      '--encoding',
      '--max-columns',
      '--pre',
      '--ignore-file',
      '--sort',
      '--sortr',
    ],
  },
  ag: { s: 'ABCGm', l: ['--ignore', '--file-search-regex'] },
  sed: { s: 'efl', sa: 'i', l: ['--expression', '--file', '--line-length'] },
  awk: { s: 'Fvf', l: ['--field-separator', '--assign', '--file'] },
  gawk: { s: 'FvfEiW', l: ['--field-separator', '--assign', '--file', '--exec', '--include'] },
  mawk: { s: 'FvfW' },
  nawk: { s: 'Fvf' },
  jq: { s: 'fL', l: ['--from-file', '--indent'], l2: ['--arg', '--argjson', '--slurpfile', '--rawfile'] },
  yq: { s: 'oIp', l: ['--output-format', '--input-format', '--indent'] },
  tar: { s: 'fCTXbKNVgLHIF', l: TAR_LONG },
  cp: { s: 'tS', l: ['--target-directory', '--suffix'] },
  mv: { s: 'tS', l: ['--target-directory', '--suffix'] },
  ln: { s: 'tS', l: ['--target-directory', '--suffix'] },
  install: { s: 'mogtS', l: ['--mode', '--owner', '--group', '--target-directory', '--suffix'] },
  chmod: { l: ['--reference'] },
  chown: { l: ['--reference', '--from'] },
  chgrp: { l: ['--reference'] },
  chattr: { s: 'vp' },
  touch: { s: 'dtr', l: ['--date', '--reference'] },
  mkdir: { s: 'm', l: ['--mode'] },
  truncate: { s: 'sr', l: ['--size', '--reference'] },
  shred: { s: 'ns', l: ['--iterations', '--size'] },
  head: { s: 'nc', l: ['--lines', '--bytes'] },
  tail: { s: 'ncs', l: ['--lines', '--bytes', '--pid', '--sleep-interval', '--max-unchanged-stats'] },
  sort: {
    s: 'ktoST',
    l: [
      '--key',
      '--field-separator',
      '--output',
      '--buffer-size',
      '--temporary-directory',
      '--parallel',
      '--files0-from',
    ],
  },
  cut: { s: 'bcdf', l: ['--bytes', '--characters', '--delimiter', '--fields', '--output-delimiter'] },
  uniq: { s: 'fsw', l: ['--skip-fields', '--skip-chars', '--check-chars'] },
  split: { s: 'abln', l: ['--suffix-length', '--bytes', '--lines', '--number'] },
  xxd: { s: 'cglsonC', l: [] },
  base64: { s: 'w', l: ['--wrap'] },
  base32: { s: 'w', l: ['--wrap'] },
  od: { s: 'AjNtw', l: [] },
  nc: {
    s: 'IiMmOPpsTVWwXxecqo',
    l: [
      '--exec',
      '--sh-exec',
      '--lua-exec',
      '--source-port',
      '--source',
      '--wait',
      '--proxy',
      '--proxy-type',
    ],
  },
  ncat: {
    s: 'IiMmOPpsTVWwXxecqo',
    l: [
      '--exec',
      '--sh-exec',
      '--lua-exec',
      '--source-port',
      '--source',
      '--wait',
      '--proxy',
      '--proxy-type',
    ],
  },
  netcat: { s: 'IiMmOPpsTVWwXxecqo', l: ['--exec', '--sh-exec'] },
  socat: { s: 'btTLW' },
  telnet: { s: 'belnX' },
  openssl: { sdl: OPENSSL_SDL },
  sqlite3: { sdl: ['-cmd', '-separator', '-newline', '-nullvalue', '-init', '-mmap', '-vfs'] },
  find: { sdl: FIND_SDL },
  'ssh-keygen': { s: 'fCNtbEmnOPrIVZaFRszYwDT' },
  git: { s: 'Ccm', l: ['--git-dir', '--work-tree', '--namespace', '--message'] },
  docker: {
    s: 'evpluwH',
    l: [
      '--env',
      '--volume',
      '--publish',
      '--label',
      '--user',
      '--workdir',
      '--name',
      '--network',
      '--entrypoint',
      '--env-file',
      '--mount',
      '--pid',
      '--ipc',
      '--uts',
      '--userns',
      '--add-host',
      '--cap-add',
      '--cap-drop',
      '--security-opt',
      '--device',
      '--platform',
      '--restart',
      '--ulimit',
      '--log-driver',
      '--log-opt',
      '--host',
      '--context',
      '--hostname',
      '--memory',
      '--cpus',
      '--tag',
      '--file',
      '--build-arg',
      '--format',
      '--filter',
    ],
  },
  podman: {
    s: 'evpluw',
    l: [
      '--env',
      '--volume',
      '--publish',
      '--label',
      '--user',
      '--workdir',
      '--name',
      '--network',
      '--entrypoint',
      '--pid',
      '--mount',
      '--device',
      '--cap-add',
      '--security-opt',
    ],
  },
  nerdctl: {
    s: 'evpluw',
    l: [
      '--env',
      '--volume',
      '--publish',
      '--user',
      '--workdir',
      '--name',
      '--network',
      '--entrypoint',
      '--pid',
      '--mount',
    ],
  },
  kubectl: {
    s: 'nfclo',
    l: ['--namespace', '--filename', '--context', '--selector', '--output', '--kubeconfig', '--container'],
  },
  python: PY,
  pypy: PY,
  node: {
    s: 'erpC',
    l: [
      '--eval',
      '--print',
      '--require',
      '--import',
      '--loader',
      '--input-type',
      '--env-file',
      '--conditions',
    ],
    stop: true,
  },
  deno: { stop: true },
  bun: { s: 'er', l: ['--eval', '--print'], stop: true },
  perl: { s: 'eEIMmx', stop: true },
  ruby: { s: 'erIC', stop: true },
  php: { s: 'rfdcBERFz', stop: true },
  lua: { s: 'el', stop: true },
  sh: SHELL,
  bash: SHELL,
  zsh: SHELL,
  dash: SHELL,
  ksh: SHELL,
  ash: SHELL,
  mksh: SHELL,
  fish: { s: 'cC', l: ['--command', '--init-command'], stop: true },
  sudo: SUDO,
  doas: { s: 'uC', stop: true },
  pkexec: { l: ['--user'], stop: true },
  run0: { l: ['--user', '--group', '--setenv', '--chdir', '--unit', '--property'], stop: true },
  env: { s: 'uCS', l: ['--unset', '--chdir', '--split-string'], stop: true },
  xargs: {
    s: 'ILnPsdEa',
    sa: 'iel',
    l: [
      '--replace',
      '--max-lines',
      '--max-args',
      '--max-procs',
      '--max-chars',
      '--delimiter',
      '--eof',
      '--arg-file',
      '--process-slot-var',
    ],
    stop: true,
  },
  timeout: { s: 'sk', l: ['--signal', '--kill-after'], stop: true },
  nice: { s: 'n', l: ['--adjustment'], stop: true },
  ionice: { s: 'cnpPu', l: ['--class', '--classdata', '--pid', '--pgid', '--uid'], stop: true },
  stdbuf: { s: 'ioe', l: ['--input', '--output', '--error'], stop: true },
  setsid: { stop: true },
  nohup: { stop: true },
  time: { s: 'fo', l: ['--format', '--output'], stop: true },
  command: { stop: true },
  exec: { s: 'a', stop: true },
  builtin: { stop: true },
  busybox: { stop: true },
  unbuffer: { stop: true },
  torsocks: { s: 'uPadp', stop: true },
  proxychains: { s: 'f', stop: true },
  proxychains4: { s: 'f', stop: true },
  chroot: { l: ['--userspec', '--groups'], stop: true },
  nsenter: { s: 'tSGwr', l: ['--target', '--setuid', '--setgid', '--wd', '--root'], stop: true },
  unshare: {
    l: ['--propagation', '--setgroups', '--map-user', '--map-group', '--kill-child', '--wd', '--root'],
    stop: true,
  },
  su: {
    s: 'csgG',
    l: [
      '--command',
      '--shell',
      '--group',
      '--supplementary-group',
      '--session-command',
      '--whitelist-environment',
    ],
    stop: true,
  },
  runuser: {
    s: 'usgG',
    l: ['--user', '--command', '--shell', '--group', '--supplementary-group', '--session-command'],
    stop: true,
  },
  watch: { s: 'nq', l: ['--interval', '--equexit'], stop: true },
  script: {
    s: 'cEIOBT',
    l: ['--command', '--echo', '--log-in', '--log-out', '--log-io', '--log-timing'],
    stop: true,
  },
  crontab: { s: 'u' },
  kill: { s: 'sn', l: ['--signal'] },
  pkill: {
    s: 'ugtPUGsF',
    l: ['--signal', '--euid', '--uid', '--group', '--parent', '--session', '--terminal', '--pidfile'],
  },
  killall: { s: 'suyoY', l: ['--signal', '--user', '--younger-than', '--older-than'] },
  useradd: {
    s: 'bcdefgGkKpsuUZ',
    l: [
      '--base-dir',
      '--comment',
      '--home-dir',
      '--expiredate',
      '--inactive',
      '--gid',
      '--groups',
      '--skel',
      '--key',
      '--password',
      '--shell',
      '--uid',
      '--selinux-user',
    ],
  },
  usermod: {
    s: 'cdefgGlpsuZ',
    l: [
      '--comment',
      '--home',
      '--expiredate',
      '--inactive',
      '--gid',
      '--groups',
      '--login',
      '--password',
      '--shell',
      '--uid',
    ],
  },
  psql: {
    s: 'hpUdcfoLTvPF',
    l: [
      '--host',
      '--port',
      '--username',
      '--dbname',
      '--command',
      '--file',
      '--output',
      '--set',
      '--variable',
    ],
  },
  mysql: { s: 'hPuDeSWo', l: ['--host', '--port', '--user', '--database', '--execute', '--socket'] },
  'redis-cli': { s: 'hpanus', l: ['--user', '--pass'] },
  mongosh: { l: ['--host', '--port', '--username', '--password', '--eval', '--file'] },
  dig: { s: 'bcfkmpqtxy' },
  host: { s: 'cNRtW' },
  ping: { s: 'cisItWwlmMpQSTF' },
  traceroute: { s: 'fimpqswzgN' },
  unzip: { s: 'dxP' },
  zip: { s: 'bntP' },
  mount: { s: 'toOLU', l: ['--types', '--options', '--bind'] },
  powershell: {
    sdl: [
      '-command',
      '-c',
      '-encodedcommand',
      '-enc',
      '-e',
      '-ec',
      '-file',
      '-f',
      '-executionpolicy',
      '-ep',
      '-windowstyle',
      '-w',
    ],
  },
  pwsh: {
    sdl: [
      '-command',
      '-c',
      '-encodedcommand',
      '-enc',
      '-e',
      '-ec',
      '-file',
      '-f',
      '-executionpolicy',
      '-ep',
      '-windowstyle',
      '-w',
    ],
  },
};

/** A parsed option: the flag as written (long flags without `=value`) and its value, if any. */
export type OptionValue<A> = { flag: string; value: A; index: number };

/** The result of splitting an argument list into flags, flag values and operands. */
export type ParsedOptions<A> = {
  flags: Set<string>;
  values: OptionValue<A>[];
  operands: A[];
  /** Index (into the input list) of each operand, parallel to `operands`. */
  operandIndex: number[];
  /** Index of the first word after options when `stop` applies (args.length when none). */
  rest: number;
};

/**
 * Splits `args` (argv without argv[0]) into flags, values and operands. Short clusters are expanded (`-rf` → `-r`,
 * `-f`, and the cluster itself is also recorded); all-digit clusters stay whole (`-9`); `--` ends options.
 */
export function parseOptions<A>(
  args: readonly A[],
  text: (a: A) => string,
  spec: OptionSpec | undefined,
  fromValue: (s: string, a: A) => A,
): ParsedOptions<A> {
  const flags = new Set<string>();
  const values: OptionValue<A>[] = [];
  const operands: A[] = [];
  const operandIndex: number[] = [];
  const s = spec?.s ?? '';
  const sa = spec?.sa ?? '';
  const longs = spec?.l ?? [];
  const longs2 = spec?.l2 ?? [];
  let endOpts = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    const t = text(a);
    if (endOpts || t === '-' || !t.startsWith('-') || t.length < 2) {
      if (spec?.stop) break;
      operands.push(a);
      operandIndex.push(i);
      continue;
    }
    if (t === '--') {
      endOpts = true;
      if (spec?.stop) {
        i++;
        break;
      }
      continue;
    }
    if (spec?.sdl) {
      const eq = t.indexOf('=');
      const name = eq > 0 ? t.slice(0, eq) : t;
      flags.add(name);
      if (eq > 0) values.push({ flag: name, value: fromValue(t.slice(eq + 1), a), index: i });
      else if (spec.sdl.some((f) => f.toLowerCase() === name.toLowerCase()) && i + 1 < args.length) {
        values.push({ flag: name, value: args[i + 1]!, index: i + 1 });
        i++;
      }
      continue;
    }
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      const name = eq > 0 ? t.slice(0, eq) : t;
      flags.add(name);
      if (eq > 0) values.push({ flag: name, value: fromValue(t.slice(eq + 1), a), index: i });
      else if (longs2.includes(name)) {
        for (let k = 0; k < 2 && i + 1 < args.length; k++) {
          i++;
          values.push({ flag: name, value: args[i]!, index: i });
        }
      } else if (longs.includes(name) && i + 1 < args.length) {
        values.push({ flag: name, value: args[i + 1]!, index: i + 1 });
        i++;
      }
      continue;
    }
    if (_isDigit(t.charCodeAt(1)) && /^-\d+$/.test(t)) {
      flags.add(t);
      continue;
    }
    let valued = false;
    for (let j = 1; j < t.length; j++) {
      const ch = t[j]!;
      flags.add(_dash(ch));
      if (sa.includes(ch)) {
        valued = j + 1 < t.length;
        if (valued) values.push({ flag: `-${ch}`, value: fromValue(t.slice(j + 1), a), index: i });
        break;
      }
      if (s.includes(ch)) {
        valued = j + 1 < t.length;
        if (j + 1 < t.length) values.push({ flag: `-${ch}`, value: fromValue(t.slice(j + 1), a), index: i });
        else if (i + 1 < args.length) {
          values.push({ flag: `-${ch}`, value: args[i + 1]!, index: i + 1 });
          i++;
        }
        break;
      }
    }
    // The cluster as written is kept too (`-rf`), unless part of it was an attached value (`-n5`, `-qO-`).
    if (t.length > 2 && !valued) flags.add(t);
  }
  return { flags, values, operands, operandIndex, rest: i };
}

/** `-x` strings for ASCII option letters, made once. */
const _DASHED: string[] = [];

function _dash(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code >= 128) return `-${ch}`;
  let d = _DASHED[code];
  if (d === undefined) {
    d = `-${ch}`;
    _DASHED[code] = d;
  }
  return d;
}

function _isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
