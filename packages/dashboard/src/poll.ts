import { onMounted, onUnmounted } from 'vue';

/**
 * Calls `fn` now and every `ms` while the component is mounted, never two at once: a slow answer
 * delays the next request rather than stacking requests up.
 */
export function usePoll(fn: () => Promise<void>, ms: number): { refresh: () => Promise<void> } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const run = async () => {
    clearTimeout(timer);
    if (running) return running;
    running = fn().finally(() => {
      running = undefined;
      if (!stopped) timer = setTimeout(() => void run(), ms);
    });
    return running;
  };

  onMounted(() => void run());
  onUnmounted(() => {
    stopped = true;
    clearTimeout(timer);
  });
  return { refresh: run };
}
