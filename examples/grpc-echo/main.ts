// Example app `skein.dev/example-grpc-echo`: a gRPC server on $PORT (default 9090), service skein.examples.Echo/Say, that
// answers with the message and its pod name; metadata `fail-with: <code>` makes it answer that gRPC status (for mesh demos).
// Echo/Chat is a bidirectional stream: each message is answered at once, and the call ends when the client's side does.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { hostname } from 'node:os';
import { join } from 'node:path';

const port = Number(process.env.PORT ?? 9090);
const pod = process.env.POD_NAME ?? hostname();
const def = protoLoader.loadSync(join(import.meta.dirname, 'echo.proto'), { keepCase: true });
const pkg = grpc.loadPackageDefinition(def) as unknown as { skein: { examples: { Echo: { service: grpc.ServiceDefinition } } } };

const server = new grpc.Server();
server.addService(pkg.skein.examples.Echo.service, {
  Say(call: grpc.ServerUnaryCall<{ message: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
    const fail = Number(call.metadata.get('fail-with')[0] ?? 0);
    if (fail > 0 && fail <= 16) { callback({ code: fail, details: `failing on request (${fail})` }); return; }
    callback(null, { message: call.request.message, pod });
  },
  Chat(call: grpc.ServerDuplexStream<{ message: string }, unknown>) {
    call.on('data', (m: { message: string }) => call.write({ message: m.message, pod }));
    call.on('end', () => call.end());
    call.on('error', () => {});
  },
});
server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (e) => {
  if (e) { console.error(e.message); process.exit(1); }
  console.log(`grpc-echo ${pod} listening on :${port}`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
