// Worker entry: Node 20 workers do not inherit tsx's loader, so register it here first.
import { register } from 'tsx/esm/api';

register();
await import('./_server.ts');
