// One listening socket: accepts connections, detects their protocol and hands each to HTTP/1.1, HTTP/2, TLS or TCP handling.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { HeaderBag } from '../http/hop-headers.ts';
import { ORIGINAL_DST, PEER_IDENTITY, type ListenerContext, type ListenerSnapshot } from '../http/listener-context.ts';
import { identityMetrics, type HandshakeFailureReason } from '../identity/identity-metrics.ts';
import { destinationPort, inboundMtlsMode, verifiedPeer, verifyMeshClient } from '../identity/inbound-mtls.ts';
import { MESH_TCP_ALPN } from '../identity/mesh-transport.ts';
import { log } from '../log.ts';
import { RateLimitedLog } from '../telemetry/rate-limited-log.ts';
import { tunnelUpgrade } from '../http/websocket-tunnel.ts';
import { Http1ServerConnection, type Http1ServerHooks } from '../http1/server-connection.ts';
import { h2Exchange, type H2Request, type H2Response } from '../http2/h2-downstream.ts';
import { Http2ServerConnection, type Http2ServerHooks } from '../http2/server-connection.ts';
import type { Http2Request, Http2Response } from '../http2/server-exchange.ts';
import { ERRORS, ProxyError, type ProxyErrorSpec } from '../errors/proxy-error.ts';
import { rescue } from '../http/http-rescue.ts';
import { originalDestination, type OriginalDestination } from '../native/original-destination.ts';
import { serveHttp } from '../stack/serve.ts';
import { forwardTcp } from '../tcp/tcp-forwarder.ts';
import { tcpTarget } from '../tcp/tcp-target.ts';
import { detectConnection } from './detect-connection.ts';
import type { DetectedProtocol } from './protocol-detect.ts';
import { ServerTlsContexts } from './tls-contexts.ts';

/** HTTP/2 rapid-reset defence (CVE-2023-44487): at most this many resets in a burst, refilled at the rate. */
const STREAM_RESET_BURST = 200;
const STREAM_RESET_RATE = 50;
/** What the mesh mTLS listener offers: HTTP/2 and HTTP/1.1, and opaque TCP where the listener has a TCP path. */
const MESH_ALPN_HTTP = ['h2', 'http/1.1'];
const MESH_ALPN_WITH_TCP = ['h2', 'http/1.1', MESH_TCP_ALPN];
/** Refused mTLS handshakes: one log line per listener and reason every 10 s. */
const handshakeLogs = new RateLimitedLog();
/** Connections that showed no protocol in time: one log line per listener every 10 s. */
const detectTimeoutLogs = new RateLimitedLog();

/**
 * Which HTTP/2 server serves downstream connections: our own (proxy/http2/server-connection.ts, the default) or, while
 * it matures, node:http2's (`SKEIN_HTTP2_SERVER=node`).
 */
const NODE_HTTP2_SERVER = process.env.SKEIN_HTTP2_SERVER === 'node';

/**
 * Resets a plain connection (RST, so its client cannot mistake the close for an answer). A mesh mTLS one is closed: its TCP
 * handle belongs to TLS and cannot be reset from here, and the client sidecar closes its own client's connection either way.
 */
function resetConnection(socket: net.Socket): void {
  if (socket instanceof tls.TLSSocket) socket.destroy();
  else socket.resetAndDestroy();
}

export class ProxyListener {
  readonly name: string;
  readonly #ctx: ListenerContext;
  readonly #server: net.Server;
  readonly #h1 = new Set<Http1ServerConnection>();
  readonly #h1Hooks: Http1ServerHooks;
  readonly #h2Conns = new Set<Http2ServerConnection>();
  readonly #h2Hooks: Http2ServerHooks;
  readonly #sweepTimer: NodeJS.Timeout;
  readonly #h2: http2.Http2Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  /** Open opaque TCP connections (client sockets): judged again when the listener's mTLS mode or policy changes. */
  readonly #tcp = new Set<net.Socket>();
  #tls: ServerTlsContexts | null = null;
  #draining = false;

  constructor(ctx: ListenerContext) {
    this.#ctx = ctx;
    const snap = ctx.snapshot();
    const { limits, listener } = snap;
    this.name = listener.name;
    if (listener.tls) this.reloadTls();

    // HTTP/1.1 is served by our own codec on the raw socket (proxy/http1/); one timer per listener applies the
    // headers timeout (slowloris), the request idle timeout and the keep-alive idle timeout to every connection.
    this.#h1Hooks = {
      onRequest: (req, res) => serveHttp(this.#ctx, req, res),
      onUpgrade: (req, socket, head) => tunnelUpgrade(this.#ctx, req, socket, head),
      onRejected: (spec) => this.#ctx.metrics.proxyError(this.name, spec.cause),
    };
    this.#h2Hooks = { onRequest: (req, res) => this.#serveH2(req, res) };
    this.#sweepTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.#h1) c.sweep(now);
      for (const c of this.#h2Conns) c.sweep(now);
    }, Math.max(10, Math.min(1_000, limits.headersTimeoutMs)));
    this.#sweepTimer.unref();

    this.#h2 = http2.createServer({
      maxSessionMemory: 16,
      maxHeaderListPairs: limits.maxHeaderCount + 4,
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      streamResetBurst: STREAM_RESET_BURST,
      streamResetRate: STREAM_RESET_RATE,
      settings: {
        maxConcurrentStreams: limits.http2MaxConcurrentStreams,
        initialWindowSize: limits.http2StreamWindowBytes,
        maxHeaderListSize: limits.maxRequestHeaderBytes,
        enablePush: false,
      },
    } as http2.ServerOptions);
    // HTTP/2 is served from the core stream API with our own small request/response pair (proxy/http2/): the compat
    // layer's per-request Readable and Writable cost more than the forwarding itself.
    this.#h2.on('session', (session: http2.ServerHttp2Session) => {
      // A stream reset before we see it has no session any more: take the socket from the session once, here.
      const socket = session.socket as net.Socket;
      session.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number) =>
        this.#serveStream(stream, headers, flags, socket),
      );
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
      session.on('error', () => session.destroy());
      session.setTimeout(Math.min(limits.connectionIdleTimeoutMs, 2_147_483_647), () => {
        session.close();
        // A peer that stopped inside a header block (HTTP/2 slowloris) never lets a graceful close finish: cut it after a grace.
        setTimeout(() => session.destroy(), limits.headersTimeoutMs).unref();
      });
      session.once('localSettings', () => {
        try {
          session.setLocalWindowSize(limits.http2ConnectionWindowBytes);
        } catch {}
      });
      if (this.#draining) session.close();
    });
    this.#h2.on('sessionError', () => {});
    this.#h2.on('streamError', () => {});

    this.#server = net.createServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.#accept(socket));
    this.#server.maxConnections = limits.maxConnectionsPerListener;
    this.#server.on('error', () => {});
  }

  /** (Re)loads the TLS certificates and keys from the files or secrets in the config (TLS 1.2+, AEAD ciphers, SNI selection). */
  reloadTls(): void {
    const snap = this.#ctx.snapshot();
    const t = snap.listener.tls;
    if (!t) return;
    this.#tls = new ServerTlsContexts(t, snap.tlsSecrets);
  }

  /** Binds the listener's address (or `at`: a listener an apply is about to add binds before its config is committed). */
  listen(at: { readonly address: string; readonly port: number } = this.#ctx.snapshot().listener): Promise<net.AddressInfo> {
    const { address, port } = at;
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.#server.once('error', onError);
      this.#server.listen({ host: address, port }, () => {
        this.#server.off('error', onError);
        resolve(this.#server.address() as net.AddressInfo);
      });
    });
  }

  get address(): net.AddressInfo | null {
    return this.#server.address() as net.AddressInfo | null;
  }

  #accept(socket: net.Socket): void {
    socket.on('error', () => socket.destroy());
    if (this.#draining) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const snap = this.#ctx.snapshot();
    if (snap.needsOriginalDst) (socket as net.Socket & { [ORIGINAL_DST]?: unknown })[ORIGINAL_DST] = originalDestination(socket);
    const mode = snap.listener.protocol;
    if (mode === 'tcp') return this.#dispatch(socket, 'opaque');
    const limits = snap.limits;
    const fallbackToTcp = mode === 'detect' && snap.listener.tcpCluster !== null;
    detectConnection(socket, fallbackToTcp ? limits.protocolDetectTimeoutMs : limits.headersTimeoutMs, (p) => {
      if (p === 'timeout') {
        this.#ctx.metrics.protocolDetectTimedOut(this.name);
        detectTimeoutLogs.write(this.name, 'info', 'no protocol detected in time', { listener: this.name, client: socket.remoteAddress, then: fallbackToTcp ? 'opaque TCP' : 'closed' });
        if (!fallbackToTcp) return void socket.destroy();
        // Nothing yet (a server-first protocol), or a short first message that could still have begun an HTTP request
        // ("ping"): once the detection time is up it is opaque TCP, as Linkerd's proxy decides after its 10 s.
        return this.#dispatch(socket, 'opaque');
      }
      this.#dispatch(socket, mode === 'http' && (p === 'opaque' || p === 'tls') ? 'http1' : p); // the HTTP/1 parser rejects it properly
    });
  }

  #serveStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number, socket: net.Socket): void {
    const res = h2Exchange(stream, headers as HeaderBag, flags, socket, this.#ctx.snapshot().limits.requestIdleTimeoutMs);
    const req = res.request;
    const method = req.method;
    if (method === 'CONNECT') {
      // As node:http2's compatibility layer answered: no CONNECT tunnels.
      return this.#refuse(req, res, ERRORS.methodNotAllowed);
    }
    const expect = headers.expect;
    if (expect !== undefined) {
      if (expect !== '100-continue') return this.#refuse(req, res, ERRORS.expectationFailed);
      res.writeContinue();
    }
    serveHttp(this.#ctx, req, res);
  }

  /** A request on our own HTTP/2 connection: CONNECT and Expect as node:http2's compatibility layer answered them. */
  #serveH2(req: Http2Request, res: Http2Response): void {
    if (req.method === 'CONNECT') return this.#refuse(req, res, ERRORS.methodNotAllowed);
    const expect = req.headers.expect;
    if (expect !== undefined) {
      if (expect !== '100-continue') return this.#refuse(req, res, ERRORS.expectationFailed);
      res.writeContinue();
    }
    serveHttp(this.#ctx, req, res);
  }

  #serveHttp2(socket: net.Socket): void {
    const conn = new Http2ServerConnection(socket, this.#ctx.snapshot().limits, this.#h2Hooks);
    this.#h2Conns.add(conn);
    socket.once('close', () => this.#h2Conns.delete(conn));
    if (this.#draining) conn.goaway();
  }

  /** An answer of the listener's own (HTTP/2 CONNECT, an unknown Expect): through the rescue, counted. */
  #refuse(req: H2Request | Http2Request, res: H2Response | Http2Response, spec: ProxyErrorSpec): void {
    rescue(req, res, new ProxyError(spec));
    this.#ctx.metrics.proxyError(this.name, spec.cause);
  }

  #serveHttp1(socket: net.Socket): void {
    const conn = new Http1ServerConnection(socket, this.#ctx.snapshot().limits, this.#h1Hooks);
    this.#h1.add(conn);
    socket.once('close', () => this.#h1.delete(conn));
  }

  #dispatch(socket: net.Socket, p: DetectedProtocol): void {
    const snap = this.#ctx.snapshot();
    const metrics = this.#ctx.metrics;
    const mtls = snap.listener.mtls ?? null;
    if (mtls !== null) {
      if (p === 'tls') return this.#acceptMeshTls(socket, snap);
      if (inboundMtlsMode(mtls, socket) === 'strict') {
        // Strict: plain text is refused before a byte of it is read as a request.
        metrics.proxyError(this.name, ERRORS.mtlsRequired.cause);
        this.#handshakeFailed('plaintext-refused', socket, 'plain text on a strict mTLS port');
        socket.destroy();
        return;
      }
    }
    metrics.connectionOpened(this.name, p);
    socket.once('close', () => metrics.connectionClosed(this.name, p));
    switch (p) {
      case 'http1':
        this.#serveHttp1(socket);
        socket.resume();
        return;
      case 'http2':
        if (!NODE_HTTP2_SERVER) {
          this.#serveHttp2(socket);
          socket.resume();
          return;
        }
        // http2 reads the unshifted preface itself on the next tick (do not resume: the bytes would be lost).
        this.#h2.emit('connection', socket);
        return;
      case 'tls': {
        const contexts = this.#tls;
        if (contexts !== null && snap.listener.tls) {
          const tlsSocket = new tls.TLSSocket(socket, {
            isServer: true,
            secureContext: contexts.default,
            ALPNProtocols: [...snap.listener.tls.alpn],
            ...(contexts.bySni ? { SNICallback: contexts.sniCallback } : {}),
            // Client certificate validation (a Gateway's frontend TLS): asked for, and required in `require` mode.
            ...(contexts.clientAuth.requestCert ? contexts.clientAuth : {}),
          });
          let secured = false;
          tlsSocket.on('error', (e: NodeJS.ErrnoException) => {
            // Without a certificate, a client of a listener that requires one fails the handshake in OpenSSL.
            if (!secured && contexts.clientAuth.rejectUnauthorized && e.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') this.#clientRefused(socket, 'no client certificate');
            tlsSocket.destroy();
          });
          const handshakeTimer = setTimeout(() => tlsSocket.destroy(), snap.limits.headersTimeoutMs);
          tlsSocket.once('secure', () => {
            secured = true;
            clearTimeout(handshakeTimer);
            const refused = contexts.clientCertificateProblem(tlsSocket, Date.now());
            if (refused !== null) {
              this.#clientRefused(socket, refused);
              tlsSocket.destroy();
              return;
            }
            // Only tls.Server clears this on a server socket; http2 waits for 'secureConnect' while it is set, and would hang.
            (tlsSocket as { secureConnecting?: boolean }).secureConnecting = false;
            if (tlsSocket.alpnProtocol !== 'h2') this.#serveHttp1(tlsSocket);
            else if (NODE_HTTP2_SERVER) this.#h2.emit('connection', tlsSocket);
            else this.#serveHttp2(tlsSocket);
          });
          tlsSocket.once('close', () => clearTimeout(handshakeTimer));
          return;
        }
        // Not terminated here: TLS passes through as opaque TCP.
        this.#dispatch(socket, 'opaque');
        return;
      }
      case 'opaque':
        this.#forwardOpaque(socket, snap);
        return;
    }
  }

  /**
   * Opaque TCP to its Service's cluster (outbound, by original destination) or the listener's TCP cluster, judged first by the connection authorization with the client's verified
   * identity (null for plain text; a socket from mesh mTLS carries it, see #acceptMeshTls).
   */
  #forwardOpaque(socket: net.Socket, snap: ListenerSnapshot): void {
    const cluster = tcpTarget(snap, (socket as net.Socket & { [ORIGINAL_DST]?: OriginalDestination | null })[ORIGINAL_DST] ?? null);
    if (!cluster) {
      socket.destroy();
      return;
    }
    const peer = verifiedPeer(socket);
    const authorize = snap.authorizeConnection ?? null;
    if (authorize !== null && !authorize(peer, destinationPort(socket))) {
      // Denied before anything is connected to the app: a reset, so the client cannot mistake it for an answer.
      resetConnection(socket);
      return;
    }
    this.#tcp.add(socket);
    socket.once('close', () => this.#tcp.delete(socket));
    this.#ctx.requestStarted();
    const tcp = this.#ctx.metrics.tcpRecorder(snap.listener, cluster);
    // forwardTcp starts the client's bytes flowing itself (over mTLS only once the upstream took the TCP ALPN).
    forwardTcp(socket, cluster, {
      idleTimeoutMs: snap.limits.connectionIdleTimeoutMs,
      metrics: tcp,
      peerIdentity: peer,
      onUpstreamError: (e) => this.#tcpUpstreamFailed(e, socket),
      onClose: () => this.#ctx.requestFinished(),
    });
  }

  /**
   * Terminates mesh mTLS with this workload's certificate: TLS 1.3, a client certificate required and checked (chain to the
   * current bundle, one SPIFFE URI SAN of our trust domain, clientAuth EKU); the verified identity is stored on the socket
   * for the requests that follow. Anything less closes the connection.
   */
  #acceptMeshTls(socket: net.Socket, snap: ListenerSnapshot): void {
    const wt = this.#ctx.workloadTls?.() ?? null;
    if (wt === null) {
      this.#handshakeFailed('no-workload-certificate', socket, 'no workload certificate yet');
      socket.destroy();
      return;
    }
    const tlsSocket = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: wt.context,
      requestCert: true,
      rejectUnauthorized: true,
      // The TCP ALPN only where there is a TCP path to the app: elsewhere a TCP client fails the handshake, never reaches HTTP.
      ALPNProtocols: snap.listener.tcpCluster !== null ? MESH_ALPN_WITH_TCP : MESH_ALPN_HTTP,
    });
    let secured = false;
    tlsSocket.on('error', (e: NodeJS.ErrnoException) => {
      if (!secured) this.#handshakeFailed('handshake', socket, e.code ?? e.message);
      tlsSocket.destroy();
    });
    const handshakeTimer = setTimeout(() => tlsSocket.destroy(), snap.limits.headersTimeoutMs);
    tlsSocket.once('close', () => clearTimeout(handshakeTimer));
    tlsSocket.once('secure', () => {
      secured = true;
      clearTimeout(handshakeTimer);
      const v = verifyMeshClient(tlsSocket, wt, Date.now());
      if (!v.ok) {
        this.#handshakeFailed(v.kind, socket, v.reason);
        tlsSocket.destroy();
        return;
      }
      (tlsSocket as tls.TLSSocket & { [PEER_IDENTITY]?: string })[PEER_IDENTITY] = v.identity;
      // Requests read from the TLS socket must still know where the connection was headed (the inbound app port).
      const dstHolder = tlsSocket as tls.TLSSocket & { [ORIGINAL_DST]?: unknown };
      dstHolder[ORIGINAL_DST] = (socket as net.Socket & { [ORIGINAL_DST]?: unknown })[ORIGINAL_DST];
      (tlsSocket as { secureConnecting?: boolean }).secureConnecting = false;
      // The session says what follows: opaque TCP to the app's port (with the caller's identity), or HTTP as negotiated.
      const alpn = tlsSocket.alpnProtocol;
      if (alpn === MESH_TCP_ALPN) this.#forwardOpaque(tlsSocket, this.#ctx.snapshot());
      else if (alpn !== 'h2') this.#serveHttp1(tlsSocket);
      else if (NODE_HTTP2_SERVER) this.#h2.emit('connection', tlsSocket);
      else this.#serveHttp2(tlsSocket);
    });
  }

  /** A TLS client refused for its certificate (edge client validation): counted by cause, one log line per listener every 10 s. */
  #clientRefused(socket: net.Socket, detail: string): void {
    this.#ctx.metrics.proxyError(this.name, ERRORS.clientCertificate.cause);
    handshakeLogs.write(`${this.name}\u0000client-certificate`, 'warn', 'TLS client refused: no valid client certificate', { listener: this.name, detail: detail.slice(0, 300), client: socket.remoteAddress ?? '' });
  }

  #handshakeFailed(reason: HandshakeFailureReason, socket: net.Socket, detail: string): void {
    identityMetrics(this.#ctx.metrics.registry).handshakeFailed('inbound', reason);
    handshakeLogs.write(`${this.name}\u0000${reason}`, 'warn', 'inbound mTLS refused', { listener: this.name, reason, detail: detail.slice(0, 300), client: socket.remoteAddress ?? '' });
  }

  /**
   * An opaque TCP connection whose upstream failed: counted by cause like an HTTP answer of the proxy's own; a mesh mTLS
   * refusal (another identity, no certificate, a failed handshake or a peer without the TCP ALPN) also as an outbound
   * handshake failure, with a log line (the client only sees its connection close).
   */
  #tcpUpstreamFailed(e: ProxyError, socket: net.Socket): void {
    this.#ctx.metrics.proxyError(this.name, e.spec.cause);
    const reason: HandshakeFailureReason | null =
      e.spec === ERRORS.peerIdentity ? 'peer-identity' : e.spec === ERRORS.noWorkloadCertificate ? 'no-workload-certificate' : e.spec === ERRORS.upstreamTls ? 'handshake' : null;
    if (reason === null) return;
    identityMetrics(this.#ctx.metrics.registry).handshakeFailed('outbound', reason);
    handshakeLogs.write(`${this.name}\u0000out\u0000${reason}`, 'warn', 'outbound mTLS for opaque TCP refused', { listener: this.name, reason, detail: e.message.slice(0, 300), client: socket.remoteAddress ?? '' });
  }

  /**
   * The listener's snapshot was replaced in place (same socket); `prev` is the one it replaces. New connections simply
   * follow the new one; open connections are judged again where the change concerns them, as Envoy drains a filter chain
   * that changed:
   * - a port that turned strict stops serving its plain-text connections: idle HTTP/1.1 ones close at once, busy ones
   *   after the response in progress (which says `connection: close`), HTTP/2 ones get GOAWAY (streams in flight finish),
   *   opaque TCP ones close;
   * - a changed policy closes the open TCP connections it no longer allows (requests are judged one by one anyway).
   */
  configChanged(prev: ListenerSnapshot): void {
    const snap = this.#ctx.snapshot();
    const mtls = snap.listener.mtls ?? null;
    if (mtls !== null && JSON.stringify(mtls) !== JSON.stringify(prev.listener.mtls ?? null)) {
      let closed = 0;
      const refused = (socket: net.Socket): boolean => {
        if (verifiedPeer(socket) !== null || inboundMtlsMode(mtls, socket) !== 'strict') return false;
        closed++;
        this.#ctx.metrics.proxyError(this.name, ERRORS.mtlsRequired.cause);
        return true;
      };
      for (const c of this.#h1) if (refused(c.socket)) c.closeAfterResponse();
      for (const c of this.#h2Conns) if (refused(c.socket)) c.goaway();
      for (const s of this.#sessions) {
        try {
          if (refused(s.socket as net.Socket)) s.close();
        } catch {
          // A session whose socket is already gone (node:http2 throws on reading it) has nothing left to close.
        }
      }
      for (const s of this.#tcp) if (refused(s)) s.destroy();
      if (closed > 0) log('info', 'mTLS mode turned strict: open plain-text connections close after their requests in flight', { listener: this.name, connections: closed });
    }
    const authorize = snap.authorizeConnection ?? null;
    if (authorize !== null && authorize !== (prev.authorizeConnection ?? null)) {
      for (const s of this.#tcp) if (!s.destroyed && !authorize(verifiedPeer(s), destinationPort(s), true)) resetConnection(s);
    }
  }

  /** Stops accepting; idle HTTP/1 connections close, HTTP/2 sessions get GOAWAY; in-flight requests continue. */
  startDrain(): void {
    this.#draining = true;
    this.#server.close();
    this.closeIdle();
    for (const s of this.#sessions) s.close();
    for (const c of this.#h2Conns) c.goaway();
  }

  /** Called periodically while draining: closes HTTP/1 connections that became idle. */
  closeIdle(): void {
    for (const c of this.#h1) c.closeIfIdle();
  }

  /** Closes everything now. */
  destroy(): void {
    this.#server.close();
    clearInterval(this.#sweepTimer);
    for (const c of this.#h1) c.socket.destroy();
    for (const s of this.#sessions) s.destroy();
    for (const c of this.#h2Conns) c.socket.destroy();
    for (const s of this.#sockets) s.destroy();
  }
}
