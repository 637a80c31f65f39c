// Where a gateway's CPU went, from a `perf` recording of it: on-CPU samples (cpu-clock) put in
// classes by their call chain, so that a WebSocket session and an HTTP fallback session of the
// http-fallback scenario can be set side by side (`npm run bench -- perf-breakdown`). Made for:
//
//   HERALD_BENCH_SERVER_NODE_ARGS='--perf-basic-prof --logfile=/dev/null --no-logfile-per-isolate' \
//     npm run bench -- http-fallback --size full --no-save --set 'transports=["xhr_streaming"]' --set 'phases=["max"]' &
//   perf record -e cpu-clock -F 997 -g -p <gateway pid> -o xs.data    # ends with the gateway
//   perf script -i xs.data -F time,ip,sym | npm run --silent bench -- perf-breakdown [DELIVERED]
//
// With DELIVERED (the messages the phase delivered, its JSON line's `delivered`), each class is
// also given in µs of CPU per delivered message (one sample: 1/997 s).
//
// --perf-basic-prof names JavaScript frames; a class is the first of the list below whose pattern
// is somewhere in a sample's chain (functions V8 inlined count as their caller). The patterns name
// functions and files of the gateway's dist/ (commits 06fc8c3 to e499eb6): check them against
// another build's `perf script` before trusting its classes. uWebSockets.js writes with send(2)
// and libc's send has no frame pointer, so its kernel time is one class whoever wrote (WebSocket
// frames, or the chunks of HTTP responses). Module loading is left out.

const CLASSES = [
  ['startup (module loading)', /Module\._compile|Module\._load|compileSourceTextModule|CompileFunctionForCJSLoader/],
  ['garbage collection', /Scavenge|MarkCompact|Heap::CollectGarbage|ConcurrentMarking|MinorMarkSweep|Sweeper/],
  ['HTTP sessions: JSON-encode each frame, per subscriber (encodeFrame)', /JsonStringifier/, /hub\.js|xhr-session/],
  // The flush runs in the setImmediate callback of XhrServer.schedule (named by place only).
  ['HTTP sessions: flush and write lines, per session (flush, framesLine, cork, write)', /xhr-server\.js/, /CheckImmediate|processImmediate/],
  [
    'HTTP sessions: flush and write lines, per session (flush, framesLine, cork, write)',
    /response-receiver|res_write|res_cork|framesLine|ArrayPrototypeJoin|JS:\S*flush /,
  ],
  // uWebSockets.js's HTTP handlers: receive requests and xhr_send (the REST API is Node's server).
  ['HTTP sessions: requests (receive and xhr_send: read, route, attach)', /xhr-server\.js|#receive|#post/, /uWS::HttpResponse|__sys_recvfrom/],
  ['Hub.deliver itself (for HTTP sessions: the loop over subscribers, XhrSession.send, schedule)', /hub\.js|xhr-session|xhr-server|SetPrototypeAdd/],
  ['WebSockets: uWebSockets.js topic publish', /deliverToWebSockets|TopicTree/],
  ['uWebSockets.js socket writes: send(2) in the kernel', /^\s*\S+ __send$/m],
  ['JIT compiler threads', /OptimizingCompileDispatcher|Maglev|Turbofan|Compiler::/],
  [
    'triggers: REST request, signature, publish call',
    /trigger-fast-path|_http_|HTTPParser|parserOn|signature|events\.js|gateway\.js|memory-broker|llhttp|Hmac|writev|ksys_read/,
  ],
  ['event loop (epoll, timers)', /uv__io_poll|epoll|uv__run_timers|uv_run/],
];
const OTHER = 'other';
const HZ = 997;

/** The report for `perf script -F time,ip,sym` output; deliveries: the phase's delivered messages, if known. */
export function perfBreakdown(text, deliveries) {
  const counts = new Map();
  let samples = 0;
  for (const block of text.split(/\n\s*\n/)) {
    const chain = block.trim().split('\n').slice(1).join('\n');
    if (chain === '') continue;
    samples++;
    const hit = CLASSES.find(([, re, also]) => re.test(chain) && (also === undefined || also.test(chain)));
    const name = hit?.[0] ?? OTHER;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const startup = counts.get(CLASSES[0][0]) ?? 0;
  counts.delete(CLASSES[0][0]);
  const measured = samples - startup;
  const perMessage = (n) => (deliveries > 0 ? `${((n * 1e6) / HZ / deliveries).toFixed(3).padStart(7)} µs/msg  ` : '');
  const lines = [`${measured} samples (${startup} of module loading left out)${deliveries > 0 ? `, ${perMessage(measured).trim()} in all` : ''}`];
  for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1])) {
    lines.push(`${((n / measured) * 100).toFixed(1).padStart(6)} %  ${String(n).padStart(6)}  ${perMessage(n)}${name}`);
  }
  return `${lines.join('\n')}\n`;
}
