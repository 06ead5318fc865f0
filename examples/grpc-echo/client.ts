// A one-shot client for the grpc-echo example: `node examples/grpc-echo/client.ts <host:port> [message]`; prints the reply as JSON.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';

const [target = '127.0.0.1:9090', message = 'hello'] = process.argv.slice(2);
const def = protoLoader.loadSync(join(import.meta.dirname, 'echo.proto'), { keepCase: true });
type EchoClient = grpc.Client & { Say(req: { message: string }, cb: (e: grpc.ServiceError | null, r?: unknown) => void): void };
const pkg = grpc.loadPackageDefinition(def) as unknown as { skein: { examples: { Echo: new (t: string, c: grpc.ChannelCredentials) => EchoClient } } };
const client = new pkg.skein.examples.Echo(target, grpc.credentials.createInsecure());
client.Say({ message }, (e, r) => {
  if (e) { console.error(`${e.code} ${e.details}`); process.exit(1); }
  console.log(JSON.stringify(r));
  client.close();
});
