export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

/** A logger (pino's `(obj, msg)` call shape) that records entries, and their text to check nothing secret is logged. */
export function captureLogger() {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (obj: object, msg: string) => {
    entries.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return {
    entries,
    text: () => entries.map((e) => `${e.level} ${e.msg} ${JSON.stringify(e.obj)}`).join('\n'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}
