// Runs the gateway side of the benchmark in a worker thread, so that serialising and sending
// frames does not share an event loop with the client being measured.
import { parentPort } from 'node:worker_threads';
import { createFakeOpenClawGateway } from '@defenseclaw/gateway-client/testing';
import { WebSocketServer } from 'ws';

type Command =
  | { op: 'blast'; count: number; payloadBytes: number; target: 'fake' | 'floor' }
  | { op: 'close' };

if (!parentPort) throw new Error('bench server must run in a worker thread');
const port = parentPort;

const TOKEN = 'bench-token-0123456789';
const fake = await createFakeOpenClawGateway({ token: TOKEN, tickIntervalMs: 3_600_000 });

// The floor: a bare ws server that answers every request frame with a canned res and can blast
// events, so the raw-ws client measures what any Node WebSocket consumer pays.
const floor = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
await new Promise<void>((resolve) => floor.once('listening', () => resolve()));
floor.on('connection', (socket) => {
  socket.on('message', (data) => {
    const text = data.toString();
    const idStart = text.indexOf('"id":"') + 6;
    const id = text.slice(idStart, text.indexOf('"', idStart));
    socket.send(`{"type":"res","id":"${id}","ok":true,"payload":{"ok":true}}`);
  });
});
const floorAddress = floor.address();
const floorPort = typeof floorAddress === 'object' && floorAddress ? floorAddress.port : 0;

function eventFrames(count: number, payloadBytes: number): string[] {
  const filler = 'x'.repeat(Math.max(0, payloadBytes - 200));
  const frames: string[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(
      JSON.stringify({
        type: 'event',
        event: 'session.tool',
        payload: {
          runId: 'run-bench',
          stream: 'tool',
          sessionKey: 'agent:main:main',
          agentId: 'main',
          seq: i + 1,
          ts: 1795303307003 + i,
          data: {
            phase: 'start',
            name: 'read',
            toolCallId: `call_${i}`,
            args: { path: 'notes.txt', filler },
          },
        },
        seq: 0, // patched below per connection
      }),
    );
  }
  return frames;
}

function lastSeq(sent: readonly (string | Buffer)[]): number {
  for (let i = sent.length - 1; i >= 0; i--) {
    const frame = sent[i];
    if (typeof frame !== 'string') continue;
    const match = /"seq":(\d+)\}$/.exec(frame);
    if (match) return Number(match[1]);
  }
  return 0;
}

port.on('message', (command: Command) => {
  if (command.op === 'close') {
    for (const client of floor.clients) client.terminate();
    floor.close();
    void fake.close().then(() => port.postMessage({ op: 'closed' }));
    return;
  }
  const frames = eventFrames(command.count, command.payloadBytes);
  if (command.target === 'fake') {
    // Frames are serialised before sending (as for the floor) and numbered to continue the
    // connection's own seq, so the client sees a contiguous stream and the worker's cost stays
    // out of the measurement.
    const connection = fake.openConnections[0];
    if (!connection) throw new Error('bench: the client is not connected');
    let seq = lastSeq(connection.sent);
    fake.sendRaw(frames.map((frame) => frame.replace('"seq":0}', `"seq":${++seq}}`)));
  } else {
    // Same corked chunks as the fake's burst, so both sides get the same sender.
    for (const client of floor.clients) {
      const tcp = (client as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
      for (let start = 0; start < frames.length; start += 256) {
        tcp.cork();
        for (const frame of frames.slice(start, start + 256)) client.send(frame);
        tcp.uncork();
      }
    }
  }
  port.postMessage({ op: 'sent', count: command.count });
});

port.postMessage({ op: 'ready', url: fake.url, floorUrl: `ws://127.0.0.1:${floorPort}`, token: TOKEN });
