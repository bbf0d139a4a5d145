// Headless Chromium (Debian `chromium`) driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
// NUL-separated JSON on fds 3 and 4, no WebSocket needed), for the report pages' tests: each file is loaded in
// a fresh browser, checked in the DOM, and its console problems and requests are collected.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = process.env.JUMPRELU_CHROMIUM ?? '/usr/bin/chromium';

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
  sessionId?: string;
}

class Cdp {
  private next = 1;
  private pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  readonly events: CdpMessage[] = [];
  private waiters: Array<{ method: string; resolve: (m: CdpMessage) => void }> = [];

  constructor(private readonly out: Writable, input: Readable) {
    let buf = '';
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\0'); i >= 0; i = buf.indexOf('\0')) {
        const msg = JSON.parse(buf.slice(0, i)) as CdpMessage;
        buf = buf.slice(i + 1);
        this.dispatch(msg);
      }
    });
  }

  private dispatch(msg: CdpMessage): void {
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result ?? {});
      return;
    }
    this.events.push(msg);
    this.waiters = this.waiters.filter((w) => {
      if (w.method !== msg.method) return true;
      w.resolve(msg);
      return false;
    });
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.out.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  waitFor(method: string): Promise<CdpMessage> {
    return new Promise((resolve) => this.waiters.push({ method, resolve }));
  }
}

export interface PageCheck {
  title: string;
  sections: string[];
  charts: number;
  chartsWithMarks: number;
  zeroSizeCharts: number;
  images: number;
  brokenImages: string[];
  scrollWidth: number;
  textHasNaN: boolean;
  heatCells: number;
}

export const CHECK_EXPRESSION = `(() => {
  const charts = [...document.querySelectorAll('svg.chart')];
  const imgs = [...document.querySelectorAll('img')];
  return JSON.stringify({
    title: document.title,
    sections: [...document.querySelectorAll('section[id]')].map((s) => s.id),
    charts: charts.length,
    chartsWithMarks: charts.filter((s) => s.querySelectorAll('g.series path, g.cell rect').length > 0).length,
    zeroSizeCharts: charts.filter((s) => { const r = s.getBoundingClientRect(); return r.width < 50 || r.height < 50; }).length,
    images: imgs.length,
    brokenImages: imgs.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.alt),
    scrollWidth: document.documentElement.scrollWidth,
    textHasNaN: /NaN|undefined/.test(document.body.innerText),
    heatCells: document.querySelectorAll('svg.heatmap g.cell').length,
  });
})()`;

export interface BrowserRun {
  checks: PageCheck[];
  problems: string[];
  requests: string[];
}

/** Loads each file in a fresh headless Chromium; returns the DOM checks, console problems and requests. */
export async function inChromium(files: string[], screenshotDir: string | undefined, profile: string, expression = CHECK_EXPRESSION): Promise<BrowserRun> {
  const child = spawn(
    CHROMIUM,
    [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-extensions', '--mute-audio', `--user-data-dir=${profile}`,
      '--remote-debugging-pipe', 'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  try {
    const cdp = new Cdp(child.stdio[3] as Writable, child.stdio[4] as Readable);
    const failed = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`chromium exited (${code}): ${stderr.slice(-2000)}`))));
    const call = (method: string, params: Record<string, unknown> = {}, sessionId?: string) => Promise.race([cdp.send(method, params, sessionId), failed]);
    const { targetId } = (await call('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await call('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    for (const domain of ['Runtime', 'Log', 'Page', 'Network']) await call(`${domain}.enable`, {}, sessionId);
    await call('Emulation.setDeviceMetricsOverride', { width: 1280, height: 1000, deviceScaleFactor: 1, mobile: false }, sessionId);
    const checks: PageCheck[] = [];
    for (const [n, file] of files.entries()) {
      const loaded = cdp.waitFor('Page.loadEventFired');
      await call('Page.navigate', { url: pathToFileURL(file).href }, sessionId);
      await Promise.race([loaded, failed]);
      const { result } = (await call('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as { result: { value: string } };
      checks.push(JSON.parse(result.value) as PageCheck);
      if (screenshotDir) {
        const metrics = (await call('Page.getLayoutMetrics', {}, sessionId)) as { cssContentSize: { width: number; height: number } };
        const height = Math.ceil(metrics.cssContentSize.height);
        for (let y = 0, k = 0; y < height; y += 1400, k++) {
          const shot = (await call('Page.captureScreenshot', {
            format: 'png', captureBeyondViewport: true, clip: { x: 0, y, width: 1280, height: Math.min(1400, height - y), scale: 1 },
          }, sessionId)) as { data: string };
          fs.writeFileSync(path.join(screenshotDir, `report-${n}-${k}.png`), Buffer.from(shot.data, 'base64'));
        }
      }
    }
    const problems: string[] = [];
    const requests: string[] = [];
    for (const e of cdp.events) {
      const p = e.params ?? {};
      if (e.method === 'Runtime.exceptionThrown') problems.push(`exception: ${JSON.stringify(p.exceptionDetails)}`);
      if (e.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) problems.push(`console.${p.type}: ${JSON.stringify(p.args)}`);
      if (e.method === 'Log.entryAdded') {
        const entry = p.entry as { level: string; text: string; source: string };
        if (entry.level === 'error') problems.push(`log ${entry.level} (${entry.source}): ${entry.text}`);
      }
      if (e.method === 'Network.requestWillBeSent') requests.push(String((p.request as { url: string }).url));
      if (e.method === 'Network.loadingFailed') problems.push(`loading failed: ${JSON.stringify(p)}`);
    }
    await call('Browser.close').catch(() => undefined);
    await exited;
    return { checks, problems, requests };
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

