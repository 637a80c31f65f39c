import { globalObject } from './global-object.js';
import { Push } from './index.js';

// `<script src=".../push.js">` defines the global `Push`, as webman's push.js does.
globalObject().Push = Push;
