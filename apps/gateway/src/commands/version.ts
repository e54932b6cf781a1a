import { defineCommand } from 'citty';
import { formatVersionLine, getVersionInfo } from '../version-info.ts';
import { globalArgs } from './_global-args.ts';

/** `version [--json]`: prints the version, Node, platform and supported OpenClaw protocol range. */
export default defineCommand({
  meta: { name: 'version', description: 'Print version information' },
  args: {
    ...globalArgs,
    json: { type: 'boolean', description: 'Print one JSON document' },
  },
  async run({ args }) {
    const info = await getVersionInfo();
    process.stdout.write(args.json ? `${JSON.stringify(info)}\n` : `${formatVersionLine(info)}\n`);
  },
});
