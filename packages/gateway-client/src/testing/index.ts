export * from './fake-gateway.ts';
export type * from './fake-types.ts';
