// A tiny SMTP sink for the browser tests: accepts every message on loopback (no TLS, no auth,
// which the service allows on loopback) and keeps it, so a test can wait for the email a
// journey sends and follow its link, as a person would.
import { createServer, type Server } from "node:net";

export type Mail = { to: string[]; data: string; text: string };

function decodeQuotedPrintable(s: string): string {
  return s.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

export class SmtpSink {
  mails: Mail[] = [];
  private server: Server;
  private waiters: (() => void)[] = [];
  port = 0;

  constructor() {
    this.server = createServer((sock) => {
      let buf = "";
      let to: string[] = [];
      let inData = false;
      const reply = (s: string) => sock.write(s + "\r\n");
      reply("220 sink ESMTP");
      sock.on("data", (chunk) => {
        buf += chunk.toString("latin1");
        for (;;) {
          if (inData) {
            const end = buf.indexOf("\r\n.\r\n");
            if (end < 0) return;
            const data = buf.slice(0, end).replace(/^\.\./gm, ".");
            buf = buf.slice(end + 5);
            inData = false;
            this.mails.push({ to, data, text: decodeQuotedPrintable(data) });
            to = [];
            reply("250 OK queued");
            this.waiters.splice(0).forEach((w) => w());
            continue;
          }
          const nl = buf.indexOf("\r\n");
          if (nl < 0) return;
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          const cmd = line.slice(0, 4).toUpperCase();
          if (cmd === "EHLO") reply("250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8");
          else if (cmd === "HELO") reply("250 sink");
          else if (cmd === "MAIL") reply("250 OK");
          else if (cmd === "RCPT") {
            to.push(line.replace(/^RCPT TO:\s*<?([^>]*)>?.*$/i, "$1").toLowerCase());
            reply("250 OK");
          } else if (cmd === "DATA") {
            inData = true;
            reply("354 go ahead");
          } else if (cmd === "QUIT") {
            reply("221 bye");
            sock.end();
          } else if (cmd === "RSET" || cmd === "NOOP") reply("250 OK");
          else reply("502 not implemented");
        }
      });
      sock.on("error", () => {});
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) =>
      this.server.listen(0, "127.0.0.1", () => {
        this.port = (this.server.address() as { port: number }).port;
        resolve(this.port);
      }),
    );
  }

  close() {
    this.server.close();
  }

  /** The first link in a message to `to` whose URL matches path (e.g. "/verify-email"), waiting for it. */
  async link(to: string, path: string, timeoutMs = 15000): Promise<string> {
    const re = new RegExp(`https?://[^\\s"'<>]+${path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}\\?token=[A-Za-z0-9_\\-.~%]+`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const m of this.mails.slice().reverse()) {
        if (!m.to.includes(to.toLowerCase())) continue;
        const hit = m.text.match(re);
        if (hit) return hit[0];
      }
      if (Date.now() > deadline) throw new Error(`no email to ${to} with a ${path} link; got ${this.mails.length} messages`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 500);
      });
    }
  }
}
