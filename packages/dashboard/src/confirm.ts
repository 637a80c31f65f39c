/**
 * Confirmation before a change that cannot be taken back (delete, rotate, replay): a dialog of the
 * page rather than window.confirm, which a browser may suppress and a test cannot style or find.
 */
import { reactive } from 'vue';

export interface ConfirmRequest {
  title: string;
  message: string;
  ok: string;
  danger?: boolean;
  /** A number asked along (the grace period of a rotation). */
  number?: { label: string; value: number; min: number; max: number };
}

export const confirmState = reactive({
  open: null as (ConfirmRequest & { resolve: (answer: { number?: number } | null) => void }) | null,
});

/** Resolves with the answer (and the number, if one was asked), or null when cancelled. */
export function askConfirm(req: ConfirmRequest): Promise<{ number?: number } | null> {
  confirmState.open?.resolve(null);
  return new Promise((resolve) => {
    confirmState.open = { ...req, resolve };
  });
}

export function answerConfirm(answer: { number?: number } | null): void {
  const open = confirmState.open;
  confirmState.open = null;
  open?.resolve(answer);
}
