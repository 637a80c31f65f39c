import { globalObject } from './global-object.js';
import { enableRecovery, RECOVERED_EVENT, RECOVERY_FAILED_EVENT } from './pusher-recovery.js';

// `<script src=".../pusher-recovery.iife.js">` (after pusher-js's) defines the global `HeraldRecovery`.
globalObject().HeraldRecovery = { enableRecovery, RECOVERED_EVENT, RECOVERY_FAILED_EVENT };
