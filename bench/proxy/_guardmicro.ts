import { measureStreamScan } from './_scan.ts';
const r = await measureStreamScan(Number(process.env.ROUNDS ?? 5));
console.log(r);
