import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vue from '@vitejs/plugin-vue';
import type { Browser, Page } from 'playwright-core';
import { build as viteBuild } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startTestGateway, startWebServer, type TestGateway, watchPage, type WebServer } from '@herald/test-support';
import { build, distDir } from '../build.mjs';

// A tiny Vue 3 app, built with Vite like a user's project, importing dist/push-vue.js (the file
// webman users copy to src/utils/push-vue.js), in real Chromium against a real gateway.

const WAIT = { timeout: 15_000 };

const APP_VUE = `<script setup>
import { ref } from 'vue';
import { usePush, useConnectionState } from 'herald-push-vue';
import Messages from './Messages.vue';

const q = new URLSearchParams(location.search);
const push = usePush({ url: q.get('ws'), app_key: q.get('key') });
window.heraldPush = push;
const state = useConnectionState(push);
const show = ref(true);
</script>

<template>
  <p id="state">{{ state }}</p>
  <button id="toggle" @click="show = !show">toggle</button>
  <Messages v-if="show" :push="push" :channel="q.get('channel')" />
</template>
`;

const MESSAGES_VUE = `<script setup>
import { ref } from 'vue';
import { useChannel } from 'herald-push-vue';

const props = defineProps({ push: Object, channel: String });
const messages = ref([]);
useChannel(props.push, props.channel, {
  message: (data) => messages.value.push(data.text),
});
</script>

<template>
  <ul id="messages">
    <li v-for="(m, i) in messages" :key="i" class="msg">{{ m }}</li>
  </ul>
</template>
`;

let browser: Browser;
let web: WebServer;
let t: TestGateway;
let workDir: string;
let appUrl: string;
let page: Page | undefined;

beforeAll(async () => {
  await build({ types: false });
  workDir = await mkdtemp(join(tmpdir(), 'herald-vue-'));
  await mkdir(join(workDir, 'src'));
  await writeFile(
    join(workDir, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"><title>vue</title></head><body><div id="app"></div><script type="module" src="./src/main.js"></script></body></html>',
  );
  await writeFile(join(workDir, 'src/main.js'), "import { createApp } from 'vue';\nimport App from './App.vue';\ncreateApp(App).mount('#app');\n");
  await writeFile(join(workDir, 'src/App.vue'), APP_VUE);
  await writeFile(join(workDir, 'src/Messages.vue'), MESSAGES_VUE);
  // The temp project has no node_modules: point `vue` at the workspace's copy.
  const vueRuntime = createRequire(import.meta.url).resolve('vue/dist/vue.runtime.esm-bundler.js');
  await viteBuild({
    root: workDir,
    base: './',
    configFile: false,
    logLevel: 'silent',
    plugins: [vue()],
    resolve: { alias: { 'herald-push-vue': join(distDir, 'push-vue.js'), vue: vueRuntime } },
    build: { outDir: join(workDir, 'dist'), emptyOutDir: true, minify: false },
  });
  [browser, web, t] = await Promise.all([launchChromium(), startWebServer(), startTestGateway()]);
  appUrl = web.mount('vue', join(workDir, 'dist'));
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([t?.close(), web?.close()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('push-vue.js in a Vite-built Vue 3 app', { timeout: 60_000 }, () => {
  it('shows a triggered message, and unsubscribes when the component unmounts', async () => {
    const channel = `vue-${randomBytes(4).toString('hex')}`;
    page = await (await browser.newContext()).newPage();
    const errors = watchPage(page);
    await page.goto(`${appUrl}index.html?ws=${encodeURIComponent(`ws://127.0.0.1:${t.wsPort}`)}&key=${t.app.key}&channel=${channel}`);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'connected', null, WAIT);
    await page.waitForFunction((name) => (window as any).heraldPush.channel(name)?.subscribed === true, channel, WAIT);

    await t.sdk.trigger(channel, 'message', { text: 'hello from the server' });
    await page.waitForFunction(() => document.querySelectorAll('#messages .msg').length === 1, null, WAIT);
    expect(await page.locator('#messages .msg').allTextContents()).toEqual(['hello from the server']);

    const occupied = async () => {
      const res = await t.sdk.get({ path: `/channels/${channel}` });
      return ((await res.json()) as { occupied: boolean }).occupied;
    };
    expect(await occupied()).toBe(true);
    await page.click('#toggle'); // unmounts <Messages>
    await page.waitForFunction(() => (window as any).heraldPush.allChannels().length === 0, null, WAIT);
    await expect.poll(occupied, WAIT).toBe(false);
    expect(await page.locator('#state').textContent()).toBe('connected');
    expect(errors.pageErrors, errors.console.join('\n')).toEqual([]);
    await page.context().close();
  });
});
