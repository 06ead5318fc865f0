// The gRPC upstream for the benchmark: a unary Echo service on h2c, built on @grpc/grpc-js. Usage: node grpc-server.ts PORT
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';

export const BENCH_PROTO = join(import.meta.dirname, 'bench.proto');
export const ECHO_CALL = 'skein.bench.Bench.Echo';

interface EchoRequest { name: string }
interface EchoReply { message: string }

export async function startGrpcServer(port: number): Promise<grpc.Server> {
  const def = protoLoader.loadSync(BENCH_PROTO, { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { skein: { bench: { Bench: grpc.ServiceClientConstructor } } };
  const server = new grpc.Server();
  server.addService(pkg.skein.bench.Bench.service, {
    Echo: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: grpc.sendUnaryData<EchoReply>) => {
      cb(null, { message: `hello ${call.request.name}` });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  return server;
}

if (process.argv[1] === import.meta.filename) {
  await startGrpcServer(Number(process.argv[2]));
}
