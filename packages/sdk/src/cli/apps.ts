#!/usr/bin/env node
/**
 * `npm run apps -- <command>` (the `herald-apps` bin): Herald's admin API from a shell. Exit codes:
 * 0 done, 1 the request failed (refused, or no answer), 2 usage error (nothing was sent).
 */
import { HeraldAdmin } from '../admin.js';
import { HeraldApiError, HeraldApiErrorCode } from '../errors.js';
import { HELP, parseInvocation, UsageError, type Command } from './args.js';
import { formatApp, formatAppList, formatAudit, formatFailure } from './format.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

/** What a command answers: the server's JSON (for --json) and its text for a person. */
interface Output {
  json: unknown;
  text: string;
}

async function execute(admin: HeraldAdmin, command: Command): Promise<Output> {
  const app = async (p: Promise<Parameters<typeof formatApp>[0]>): Promise<Output> => {
    const a = await p;
    return { json: a, text: formatApp(a) };
  };
  switch (command.name) {
    case 'list': {
      const list = await admin.listApps();
      return { json: list, text: formatAppList(list) };
    }
    case 'create':
      return app(admin.createApp(command.fields));
    case 'show':
      return app(admin.getApp(command.id));
    case 'update':
      return app(admin.updateApp(command.id, command.patch, { ifMatch: command.ifMatch }));
    case 'disable':
      return app(admin.disableApp(command.id, { ifMatch: command.ifMatch }));
    case 'enable':
      return app(admin.enableApp(command.id, { ifMatch: command.ifMatch }));
    case 'delete':
      await admin.deleteApp(command.id, { ifMatch: command.ifMatch });
      // 204: the server answers no JSON, so --json prints nothing.
      return { json: undefined, text: `deleted app ${command.id}\n` };
    case 'rotate-secret':
      return app(admin.rotateSecret(command.id, { graceSeconds: command.graceSeconds, secret: command.secret, ifMatch: command.ifMatch }));
    case 'audit': {
      const entries = await admin.audit({ limit: command.limit, before: command.before });
      return { json: { entries }, text: formatAudit(entries) };
    }
  }
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let invocation;
  try {
    invocation = parseInvocation(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`herald-apps: ${err.message}\nRun with --help for the commands and options.\n`);
    return EXIT_USAGE;
  }
  if (invocation.help) {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  const { command, url, token, json } = invocation;
  let admin: HeraldAdmin | undefined;
  try {
    admin = new HeraldAdmin(url, token);
    const out = await execute(admin, command);
    if (!json) process.stdout.write(out.text);
    else if (out.json !== undefined) process.stdout.write(`${JSON.stringify(out.json, null, 2)}\n`);
    return EXIT_OK;
  } catch (err) {
    if (!(err instanceof HeraldApiError)) throw err;
    // Refused before sending (a bad --url, an id the API cannot take): the command line is at fault.
    if (err.code === HeraldApiErrorCode.InvalidArgument || err.code === HeraldApiErrorCode.InvalidOptions) {
      process.stderr.write(`herald-apps: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (json && err.code === HeraldApiErrorCode.HttpStatus && err.errorCode !== undefined) process.stdout.write(`${err.body}\n`);
    process.stderr.write(`herald-apps: ${formatFailure(err)}`);
    return EXIT_FAILED;
  } finally {
    await admin?.close();
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
