import { measureStreamScan, SPEC_SETTING } from './_scan.ts';

console.log(JSON.stringify(measureStreamScan([SPEC_SETTING], Number(process.env.ROUNDS ?? 5)), null, 1));
