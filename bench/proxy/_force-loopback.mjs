// Loaded with `--import` before the Portkey gateway's bundled server, which listens on every interface: this makes
// any `server.listen(port)` without a host bind 127.0.0.1 instead, so the benchmark stays on loopback.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function forceLoopback(...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') {
    const rest = args.slice(1).filter((arg) => arg !== undefined);
    return listen.call(this, args[0], '127.0.0.1', ...rest);
  }
  if (
    args[0] !== null &&
    typeof args[0] === 'object' &&
    args[0].host === undefined &&
    args[0].path === undefined
  ) {
    return listen.call(this, { ...args[0], host: '127.0.0.1' }, ...args.slice(1));
  }
  return listen.apply(this, args);
};
