import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { Notifier, NotifyMessage } from './types';

/**
 * Development and test driver: appends one JSON line `{"to","channel","text","code","at"}` per
 * message to a file. Each line is written with one write() on a descriptor opened with O_APPEND,
 * so lines from concurrent sends (or processes) never interleave. Never used in production.
 */
export class OutboxNotifier implements Notifier {
  private dirReady: Promise<unknown> | undefined;

  constructor(
    readonly file: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async send(msg: NotifyMessage): Promise<void> {
    this.dirReady ??= mkdir(path.dirname(this.file), { recursive: true });
    await this.dirReady;
    const line = `${JSON.stringify({ to: msg.to, channel: msg.channel, text: msg.text, code: msg.code ?? null, at: this.now().toISOString() })}\n`;
    const buf = Buffer.from(line, 'utf8');
    const fh = await open(this.file, 'a', 0o600);
    try {
      const { bytesWritten } = await fh.write(buf, 0, buf.length);
      if (bytesWritten !== buf.length) throw new Error(`short write to the outbox ${this.file}`);
    } finally {
      await fh.close();
    }
  }
}
