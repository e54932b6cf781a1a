export * from './device-auth.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './frames.ts';
export * from './handshake.ts';
export * from './logger.ts';
export * from './methods.ts';
export * from './normalize.ts';
