import type {
  HttpClient,
  HttpRequest,
  HttpResponse,
  HttpStreamClient,
  HttpStreamHandlers,
  NetworkMonitor,
  Platform,
  Socket,
  SocketHandlers,
  Transport,
} from './transport.js';
import { alwaysOnline } from './transport.js';

/** The browser's `WebSocket`. */
const browserTransport: Transport = {
  connect(url: string, h: SocketHandlers): Socket {
    const ws = new WebSocket(url);
    ws.onopen = () => h.onOpen();
    ws.onmessage = (e: MessageEvent) => {
      if (typeof e.data === 'string') h.onMessage(e.data);
    };
    ws.onclose = (e: CloseEvent) => h.onClose({ code: e.code, reason: e.reason });
    ws.onerror = (e: Event) => h.onError(e);
    return {
      send: (text) => ws.send(text),
      close: (code, reason) => {
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        try {
          ws.close(code, reason);
        } catch {
          /* already closing, or an invalid code from a caller: the socket is dropped either way */
        }
      },
    };
  },
};

function xhrRequest(req: HttpRequest): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(req.method, req.url, true);
    for (const [k, v] of Object.entries(req.headers)) xhr.setRequestHeader(k, v);
    xhr.onload = () => resolve({ status: xhr.status, body: xhr.responseText });
    xhr.onerror = () => reject(new Error(`Network error calling ${req.url}`));
    xhr.ontimeout = xhr.onerror;
    xhr.send(req.body);
  });
}

async function fetchRequest(req: HttpRequest): Promise<HttpResponse> {
  // Same credentials rule as webman's XHR: cookies go to the page's own origin only.
  const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, credentials: 'same-origin' });
  return { status: res.status, body: await res.text() };
}

/** `fetch` where it exists, else `XMLHttpRequest`. */
const browserHttp: HttpClient = (req) => (typeof fetch === 'function' ? fetchRequest(req) : xhrRequest(req));

/**
 * The HTTP fallback transports' requests through `XMLHttpRequest`, whose `responseText` grows
 * while the answer loads (readyState 3) in every browser, old WebViews included; a streamed
 * `fetch` body is missing from some of those. No credentials: the session id in the path is what
 * ties the requests together.
 */
function xhrStream(req: HttpRequest, h: HttpStreamHandlers): { abort(): void } {
  const xhr = new XMLHttpRequest();
  let done = false;
  let statusSeen = false;
  let read = 0;
  const progress = () => {
    if (done || xhr.readyState < 2) return;
    if (!statusSeen) {
      statusSeen = true;
      h.onStatus(xhr.status);
    }
    if (xhr.readyState < 3) return;
    const text = xhr.responseText;
    if (text.length > read) {
      const next = text.slice(read);
      read = text.length;
      h.onText(next);
    }
  };
  const finish = (error: unknown) => {
    if (done) return;
    if (error === undefined) progress();
    done = true;
    if (error === undefined) h.onEnd();
    else h.onError(error);
  };
  // Browsers throttle `progress` to one per 50 ms; `readystatechange` comes with every chunk.
  xhr.onreadystatechange = xhr.onprogress = progress;
  xhr.onload = () => finish(undefined);
  xhr.onerror = () => finish(new Error(`Network error calling ${req.url}`));
  xhr.open(req.method, req.url, true);
  for (const [k, v] of Object.entries(req.headers)) xhr.setRequestHeader(k, v);
  xhr.send(req.body);
  return {
    abort: () => {
      done = true;
      xhr.onreadystatechange = xhr.onprogress = xhr.onload = xhr.onerror = null;
      xhr.abort();
    },
  };
}

const browserHttpStream: HttpStreamClient = { streaming: true, request: xhrStream };

/** `online` / `offline` events of the window (or worker) and `navigator.onLine`. */
const browserNetwork: NetworkMonitor = {
  isOnline: () => typeof navigator === 'undefined' || navigator.onLine !== false,
  subscribe(listener) {
    if (typeof addEventListener !== 'function') return alwaysOnline.subscribe(listener);
    const online = () => listener(true);
    const offline = () => listener(false);
    addEventListener('online', online);
    addEventListener('offline', offline);
    return () => {
      removeEventListener('online', online);
      removeEventListener('offline', offline);
    };
  },
};

export function createBrowserPlatform(): Platform {
  const platform: Platform = { transport: browserTransport, http: browserHttp, network: browserNetwork };
  // Workers without XMLHttpRequest (service workers) get the WebSocket only.
  if (typeof XMLHttpRequest !== 'undefined') platform.httpStream = browserHttpStream;
  return platform;
}
